"""powchain.api"""
