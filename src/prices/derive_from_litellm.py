#!/usr/bin/env python3
"""Derives bfx's embedded Bedrock price table (bedrock.csv) from LiteLLM's rows.

Input: ../shared/formats/pricing/litellm_bedrock_chat_rows.csv, the Bedrock chat rows of
litellm 1.109.1's packaged model_prices_and_context_window.json (each of its entries cites
the AWS price list offer AmazonBedrockFoundationModels). Run from the crate root:

    python3 src/prices/derive_from_litellm.py ../shared/formats/pricing/litellm_bedrock_chat_rows.csv > src/prices/bedrock.csv

Prices are USD per million tokens. A few rows are added or completed by hand; each says
so in its `source` column.
"""
import csv
import sys
from decimal import Decimal

AS_OF = "2026-11-22"
LITELLM = "litellm 1.109.1 model_prices_and_context_window.json (AWS price list AmazonBedrockFoundationModels)"
# Minimum tokens per cache checkpoint where LiteLLM has none (shared/formats README section 8).
MIN_TOKENS = {
    "anthropic.claude-3-7-sonnet": (1024, "Anthropic prompt-caching docs: Claude 3.7 Sonnet minimum 1,024"),
    "anthropic.claude-3-5-sonnet": (1024, "Anthropic prompt-caching docs: Sonnet-class minimum 1,024"),
    "anthropic.claude-3-opus": (1024, "Anthropic prompt-caching docs: Opus-class minimum 1,024"),
    "amazon.nova": (1000, "AWS Bedrock prompt caching: Amazon Nova minimum 1,000 tokens per checkpoint"),
}
EXTRA = [
    # Not in LiteLLM's Bedrock rows; AWS's public on-demand prices for Claude 3 Haiku / 3 Sonnet.
    dict(id="anthropic.claude-3-haiku-20240307-v1:0", input="0.25", output="1.25", source="aws.amazon.com/bedrock/pricing, Claude 3 Haiku on-demand (added by hand; no cache prices)"),
    dict(id="us.anthropic.claude-3-haiku-20240307-v1:0", input="0.25", output="1.25", source="aws.amazon.com/bedrock/pricing, Claude 3 Haiku on-demand, us. profile at the base price (added by hand)"),
    dict(id="anthropic.claude-3-sonnet-20240229-v1:0", input="3", output="15", source="aws.amazon.com/bedrock/pricing, Claude 3 Sonnet on-demand (added by hand; no cache prices)"),
]


def per_m(x):
    if not x:
        return ""
    v = Decimal(x) * 1_000_000
    return format(v.normalize(), "f")


def base_of(key):
    for p in ("global.", "us-gov.", "us.", "eu.", "apac.", "jp.", "au."):
        if key.startswith(p):
            return key[len(p):]
    return key


def main(path):
    out = csv.writer(sys.stdout, lineterminator="\n")
    print("# bfx Bedrock price table. USD per million tokens. Rows are matched by model id (with its")
    print("# inference-profile prefix), longest prefix first; see src/prices.rs. Derived by")
    print("# src/prices/derive_from_litellm.py; every row cites its source and date.")
    out.writerow(["id", "input", "output", "cache_read", "cache_write_5m", "cache_write_1h",
                  "input_above_200k", "output_above_200k", "min_cache_tokens", "source", "as_of"])
    rows = []
    for r in csv.DictReader(open(path)):
        key = r["model_key"]
        if "/" in key or r["mode"] != "chat":
            continue
        src = LITELLM
        read = per_m(r["cache_read_input_token_cost"])
        w5 = per_m(r["cache_creation_input_token_cost"])
        w1h = per_m(r["cache_creation_input_token_cost_above_1hr"])
        base = base_of(key)
        mn = r["prompt_cache_min_tokens"]
        if read and not mn:
            for prefix, (n, why) in MIN_TOKENS.items():
                if base.startswith(prefix):
                    mn = str(n)
                    src += "; min tokens: " + why
        if read and not w5 and base.startswith("amazon.nova"):
            # Nova lists no cache-write price: writes are billed as ordinary input.
            w5 = per_m(r["input_cost_per_token"])
            src += "; cache write = input price (AWS lists no Nova cache-write price)"
        rows.append([key, per_m(r["input_cost_per_token"]), per_m(r["output_cost_per_token"]), read, w5, w1h,
                     per_m(r["input_cost_per_token_above_200k_tokens"]),
                     per_m(r["output_cost_per_token_above_200k_tokens"]), mn, src, AS_OF])
    for e in EXTRA:
        rows.append([e["id"], e["input"], e["output"], "", "", "", "", "", "", e["source"], AS_OF])
    rows.sort(key=lambda r: r[0])
    for r in rows:
        out.writerow(r)


main(sys.argv[1])
