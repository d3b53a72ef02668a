"""`vigie serve` driven by the official `openai` Python client, unchanged.

Run by crates/vigie-cli/tests/serve.rs with the server's base URL; exits
non-zero (with the failing assertion) if anything a client relies on breaks.
"""
import sys
import threading

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="unused")
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]

models = [m.id for m in client.models.list()]
assert models == ["local/smollm2"], models

# A plain chat completion, greedy by default.
answer = client.chat.completions.create(model="smollm2", messages=QUESTION, max_tokens=12)
text = answer.choices[0].message.content
assert text and answer.choices[0].finish_reason in ("stop", "length"), answer
assert 0 < answer.usage.completion_tokens <= 12 and answer.usage.prompt_tokens > 10, answer.usage
again = client.chat.completions.create(model="local/smollm2", messages=QUESTION, max_tokens=12)
assert again.choices[0].message.content == text, "greedy decoding is deterministic"

# Streaming gives the same text, piece by piece, then the usage.
pieces, usage, finish = [], None, None
for chunk in client.chat.completions.create(model="smollm2", messages=QUESTION, max_tokens=12, stream=True, stream_options={"include_usage": True}):
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        pieces.append(choice.delta.content or "")
        finish = choice.finish_reason or finish
assert "".join(pieces) == text, (pieces, text)
assert len([p for p in pieces if p]) > 1, "streamed in several pieces"
assert usage and usage.completion_tokens == answer.usage.completion_tokens, usage
assert finish == answer.choices[0].finish_reason

# The Responses API (what Inspect's openai provider uses by default).
response = client.responses.create(model="smollm2", input="What is the capital of France?", max_output_tokens=12)
assert response.output_text == text, (response.output_text, text)
assert response.usage.output_tokens == answer.usage.completion_tokens, response.usage

# Plain-text completions.
done = client.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=6)
assert done.choices[0].text and done.usage.completion_tokens <= 6, done

# ignore_eos forces an exact number of tokens (as llama.cpp's and vLLM's servers do).
forced = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Say yes."}], max_tokens=40, extra_body={"ignore_eos": True})
assert forced.usage.completion_tokens == 40 and forced.choices[0].finish_reason == "length", forced.usage

# logit_bias steers greedy decoding.
plain = client.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=3)
biased = client.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=3, logit_bias={"9690": 100})
assert biased.choices[0].text != plain.choices[0].text, (biased, plain)

# Tools: the client's own types read the answer, whole and streamed alike.
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
whole = client.chat.completions.create(model="smollm2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="required", max_tokens=40)
message = whole.choices[0].message
calls = message.tool_calls or []
assert whole.choices[0].finish_reason == ("tool_calls" if calls else whole.choices[0].finish_reason), whole
assert all(c.type == "function" and c.id for c in calls), calls
streamed_calls, streamed_text = [], []
for chunk in client.chat.completions.create(model="smollm2", messages=ASK_WEATHER, tools=TOOLS, tool_choice="required", max_tokens=40, stream=True):
    for choice in chunk.choices:
        streamed_text.append(choice.delta.content or "")
        streamed_calls.extend(choice.delta.tool_calls or [])
assert [c.function.name for c in streamed_calls] == [c.function.name for c in calls], (streamed_calls, calls)
assert "".join(streamed_text) == (message.content or ""), (streamed_text, message.content)
assert "<tool_call>" not in (message.content or ""), "a call is never shown as text"
# A call and its result go back, as an agent loop sends them.
followup = client.chat.completions.create(model="smollm2", max_tokens=12, tools=TOOLS, messages=ASK_WEATHER + [
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_0", "content": "18C and sunny"}])
assert followup.choices[0].finish_reason in ("stop", "length", "tool_calls"), followup
try:
    client.chat.completions.create(model="smollm2", max_tokens=4, messages=[{"role": "tool", "tool_call_id": "x", "content": "?"}])
    raise AssertionError("a tool result for no call was accepted")
except openai.BadRequestError as e:
    assert "tool_calls" in str(e), e
print(f"tools: {len(calls)} call(s): {[(c.function.name, c.function.arguments) for c in calls]}; text: {message.content!r}")

# Errors come back in OpenAI's shape, as the client's exception types.
try:
    client.chat.completions.create(model="gpt-4o", messages=QUESTION, max_tokens=4)
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as e:
    assert "not served here" in str(e), e
try:
    client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hello " * 9000}], max_tokens=4)
    raise AssertionError("a prompt longer than the context was accepted")
except openai.BadRequestError as e:
    assert "context" in str(e), e

# Concurrent requests (decoded together by the server) answer as they do alone.
prompts = ["Name three primary colours.", "What is 12 times 7?", "Why is the sky blue?", "Who wrote Romeo and Juliet?"]
alone = [client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": p}], max_tokens=10).choices[0].message.content for p in prompts]
together = [None] * len(prompts)

def ask(i):
    together[i] = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": prompts[i]}], max_tokens=10).choices[0].message.content

threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert together == alone, (together, alone)
print("openai client: all checks passed")
