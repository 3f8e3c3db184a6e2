"""kubetwin.scheduler"""
