"""powchain.core"""
