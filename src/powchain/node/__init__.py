"""powchain.node"""
