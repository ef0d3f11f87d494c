"""powchain.p2p"""
