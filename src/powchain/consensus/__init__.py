"""powchain.consensus"""
