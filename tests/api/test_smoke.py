from tests.conftest import Api, error_code


def test_signup_then_login_returns_tokens(api: Api) -> None:
    body = api.signup("  Alice@Example.COM ")
    assert body["data"]["signup"]["user"]["email"] == "alice@example.com"
    login = api.login("ALICE@example.com")
    assert login["data"]["login"]["token"]


def test_signup_of_taken_email_is_conflict(api: Api) -> None:
    api.token_for("bob@example.com")
    assert error_code(api.signup("BOB@example.com")) == "CONFLICT"
