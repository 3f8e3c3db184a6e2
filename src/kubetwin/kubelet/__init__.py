"""kubetwin.kubelet"""
