"""kubetwin.scenario"""
