"""placeholder"""
def check_task(payload):
    return {}
