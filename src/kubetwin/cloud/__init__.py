"""kubetwin.cloud"""
