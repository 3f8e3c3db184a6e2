"""kubetwin.client"""
