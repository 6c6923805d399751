"""Tool names as the provider logs them: one key to match them, the answers' spelling to emit them."""

from __future__ import annotations

import json

from fde_toolkit.slm.tools import answer_spelling, offered_tool_names, respell, respell_tools, tool_key


def test_the_key_is_the_name_an_openai_style_api_accepts():
    assert tool_key("requests.get") == "requests_get"
    assert tool_key("requests_get") == "requests_get"
    assert tool_key("crm/contacts.search v2") == "crm_contacts_search_v2"
    assert tool_key("get-weather_2") == "get-weather_2"  # dashes, underscores and digits are kept
    assert tool_key("x" * 80) == "x" * 64
    assert tool_key("météo.lire") == "m_t_o_lire"
    assert tool_key(None) == ""


def test_offered_names_come_from_openai_schemas_in_a_list_or_json_text():
    tools = [{"type": "function", "function": {"name": "requests.get", "parameters": {}}},
             {"name": "legacy_fn", "parameters": {}}, {"type": "function"}, "junk"]
    assert offered_tool_names(tools) == ["requests.get", "legacy_fn"]
    assert offered_tool_names(json.dumps(tools)) == ["requests.get", "legacy_fn"]
    assert offered_tool_names("not json") == [] and offered_tool_names(None) == []


def test_answers_decide_the_spelling_and_the_key_stands_in_for_tools_never_called():
    spelling = answer_spelling(offered=["requests.get", "os.path.join", "plain"],
                               called=["requests_get", "requests_get", "plain"])
    assert spelling == {"os_path_join": "os_path_join", "plain": "plain", "requests_get": "requests_get"}
    # a provider that logs dotted names keeps them: the answers are what the customer's code dispatches on
    assert answer_spelling(["requests.get"], ["requests.get"]) == {"requests_get": "requests.get"}
    assert respell("requests.get", spelling) == "requests_get" and respell("new.tool") == "new_tool"


def test_schemas_are_renamed_as_the_answers_name_them_and_left_intact_otherwise():
    tools = [{"type": "function", "function": {"name": "requests.get", "description": "GET a URL",
                                               "parameters": {"type": "object"}}},
             {"type": "function", "function": {"name": "plain", "parameters": {}}}]
    out = respell_tools(tools, {"requests_get": "requests_get"})
    assert [t["function"]["name"] for t in out] == ["requests_get", "plain"]
    assert out[0]["function"]["description"] == "GET a URL" and out[1] is tools[1]
    assert tools[0]["function"]["name"] == "requests.get"  # the logged schema is not touched
    assert respell_tools(None) is None
