"""powchain.wallet"""
