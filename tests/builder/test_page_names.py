"""The bottom-up route keeps a page's own title as its concept's native name, when the title is a name in the
page's language (the catalogue's check of names)."""

import pytest

from cultureclip.builder.recipes.bottom_up import page_name


@pytest.mark.parametrize(
    "language, title, expected",
    [
        ("zh", "小笼包", ("zh", "小笼包")),
        ("zh-TW", "小籠包", ("zh", "小籠包")),  # a Wikipedia variant code: its language
        ("ja", "ラーメン", ("ja", "ラーメン")),
        ("ko", "한복", ("ko", "한복")),
        ("ru", "Пельмени", ("ru", "Пельмени")),
        ("en", "Xiaolongbao", (None, None)),  # English: the concept's name already
        ("zh", "iPhone", (None, None)),  # not written in Han
        ("simple", "Hanbok", (None, None)),  # not an ISO 639-1 code
        ("", "小笼包", (None, None)),  # no language given
    ],
)
def test_a_page_title_in_its_languages_script_is_the_native_name(language, title, expected):
    name = page_name({"language": language, "page_title": title})
    assert (name["native_language"], name["native_name"]) == expected
