"""kubetwin.controllers"""
