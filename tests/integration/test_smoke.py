def test_login_and_ping(api):
    assert api.ok("debug.ping")["msg"]
    info = api.ok("server.info")
    assert info["api_version"] == "2.31"
    user = api.ok("users.get_current_user")["user"]
    assert user["name"] == "Test User"
