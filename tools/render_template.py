#!/usr/bin/env python3
"""Reference renderer for chat templates: jinja2 set up the way HF transformers' apply_chat_template
sets it up, so the C++ renderer can be compared byte for byte.

  render_template.py --config DIR/tokenizer_config.json --messages FILE.json [--add-generation-prompt]
  render_template.py --source TEMPLATE.jinja --context CONTEXT.json
  render_template.py --batch CASES.json

The first form renders the model's chat_template with messages, add_generation_prompt, tools=None,
documents=None and the special tokens, like transformers does. The second renders raw template
text with an arbitrary JSON object as its variables (interpreter tests). The result goes to stdout
as UTF-8 with nothing added; on a template or render error the message goes to stderr, exit 3.
The batch form (one interpreter start for a whole test suite) reads a JSON array of cases, each
{"config": PATH, "messages": [...], "add_generation_prompt": BOOL} or {"source": TEXT,
"context": {...}}, and prints a JSON array with {"ok": TEXT} or {"error": MESSAGE} for each.
Needs jinja2 (Debian: python3-jinja2).
"""
import argparse
import json
import sys

try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:  # the C++ tests look for this message
    sys.stderr.write("render_template.py: jinja2 is missing (install python3-jinja2)\n")
    sys.exit(4)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def make_environment():
    # Same options as transformers' _compile_jinja_template (its AssistantTracker extension only
    # adds {% generation %}, which the templates here never use).
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    return env


def token_text(value):
    # tokenizer_config.json writes special tokens either as strings or as AddedToken dicts.
    if isinstance(value, dict):
        return value.get("content")
    return value


def chat_template_of(config):
    template = config.get("chat_template")
    if isinstance(template, list):  # named templates: transformers picks "default"
        for entry in template:
            if entry.get("name") == "default":
                return entry["template"]
        raise SystemExit("render_template.py: no 'default' chat template")
    if not isinstance(template, str):
        raise SystemExit("render_template.py: tokenizer_config.json has no chat_template")
    return template


def chat_variables(config, messages, add_generation_prompt):
    variables = {"messages": messages, "tools": None, "documents": None,
                 "add_generation_prompt": add_generation_prompt}
    for key in ("bos_token", "eos_token"):
        if config.get(key) is not None:
            variables[key] = token_text(config[key])
    return variables


def render_case(env, case):
    if "config" in case:
        with open(case["config"], encoding="utf-8") as f:
            config = json.load(f)
        source = chat_template_of(config)
        variables = chat_variables(config, case["messages"], bool(case.get("add_generation_prompt")))
    else:
        source, variables = case["source"], case.get("context", {})
    try:
        return {"ok": env.from_string(source).render(**variables)}
    except Exception as e:  # noqa: BLE001 - any template failure is an expected outcome here
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config")
    ap.add_argument("--messages")
    ap.add_argument("--add-generation-prompt", action="store_true")
    ap.add_argument("--source")
    ap.add_argument("--context")
    ap.add_argument("--batch")
    args = ap.parse_args()

    env = make_environment()
    if args.batch:
        with open(args.batch, encoding="utf-8") as f:
            cases = json.load(f)
        sys.stdout.write(json.dumps([render_case(env, c) for c in cases]))
        return
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            config = json.load(f)
        with open(args.messages, encoding="utf-8") as f:
            messages = json.load(f)
        source = chat_template_of(config)
        variables = chat_variables(config, messages, args.add_generation_prompt)
    else:
        with open(args.source, encoding="utf-8", newline="") as f:
            source = f.read()
        with open(args.context, encoding="utf-8") as f:
            variables = json.load(f)

    try:
        text = env.from_string(source).render(**variables)
    except Exception as e:  # noqa: BLE001 - any template failure is reported the same way
        sys.stderr.write(f"render_template.py: {type(e).__name__}: {e}\n")
        sys.exit(3)
    sys.stdout.buffer.write(text.encode("utf-8", "surrogatepass"))


if __name__ == "__main__":
    main()
