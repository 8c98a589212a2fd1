"""Operators' and supervisors' browser console (Flask + WebRTC softphone).

Reserved: the console issue builds it (create_app, blueprints, JsSIP softphone).
"""
