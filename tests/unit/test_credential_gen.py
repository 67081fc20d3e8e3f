from trackside.shared.credential_gen import new_access_key, new_secret_key


def test_generated_secrets_never_begin_with_a_dash():
    # 2,000 draws: with a plain token_urlsafe about 31 would begin with "-" or "_".
    assert all(new_secret_key(24)[0].isalnum() for _ in range(2000))


def test_access_keys_are_upper_case_letters_and_digits():
    key = new_access_key()
    assert len(key) == 30 and key.isalnum() and key == key.upper()
