"""kubetwin.scheduler.plugins"""
