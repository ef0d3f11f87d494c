"""powchain.storage"""
