"""powchain.policy"""
