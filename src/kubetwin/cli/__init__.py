"""kubetwin.cli"""
