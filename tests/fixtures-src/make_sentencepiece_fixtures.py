#!/usr/bin/python3
"""Trains two tiny SentencePiece models on a small inline corpus and writes, for Superalign's tokenizer tests, the
model files and the ids, pieces and decoded text that the reference implementation (Google's `sentencepiece` Python
package, Debian's python3-sentencepiece 0.1.97) gives for a set of strings.

  llama-bpe/  BPE, 384 pieces (259 of them special and byte pieces), byte fallback, digits split, no extra-whitespace removal, identity normalization:
              the trainer settings of Llama's tokenizer.model, with a Llama tokenizer_config.json beside it.
  unigram/    Unigram, 64 pieces (the vocabulary of the tiny GPT-2 fixture), default nmt_nfkc normalization with
              extra-whitespace removal, no byte fallback (unknown characters become <unk>).

Training is single-threaded on a fixed corpus with a fixed seed, so a rerun writes the same files; the outputs are
committed, so the tests need no Python.

Usage:  make_sentencepiece_fixtures.py OUT_DIR     (OUT_DIR = tests/Superalign.Tests/Fixtures/SentencePiece)
"""
import io, json, os, sys
import sentencepiece as spm

WORDS = ("the quick brown fox jumps over the lazy dog while a careful student answers every question with honest "
         "and helpful words because the teacher prefers answers that are correct kind and short").split()


def corpus():
    """A deterministic corpus: sentences of the words above, some digits, punctuation and a few accented letters."""
    lines, state = [], 12345
    for i in range(400):
        n, words = 4 + i % 9, []
        for _ in range(n):
            state = (state * 1103515245 + 12345) % (1 << 31)
            words.append(WORDS[state % len(WORDS)])
        line = " ".join(words)
        if i % 5 == 0:
            line = line.capitalize() + "."
        if i % 7 == 0:
            line += f" {i * 37 % 1000} items"
        if i % 11 == 0:
            line += ", café?"
        lines.append(line)
    return lines


CASES = [
    "Hello world",
    "the quick brown fox",
    " leading space",
    "trailing space ",
    "multiple   spaces  inside",
    "   ",
    "",
    "Digits 12345 and 2024.",
    "café naïve résumé",
    "日本語",
    "emoji 🙂 here",
    "tab\tand\nnewline",
    "ÅNGSTRÖM ﬁ ① ｆｕｌｌ",
    "<s> opens a sentence, </s> ends it",
]

MODELS = {
    "llama-bpe": dict(model_type="bpe", vocab_size=384, byte_fallback=True, split_digits=True, add_dummy_prefix=True,
                      remove_extra_whitespaces=False, normalization_rule_name="identity", allow_whitespace_only_pieces=True,
                      character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1),
    "unigram": dict(model_type="unigram", vocab_size=64, byte_fallback=False, character_coverage=1.0,
                    unk_id=0, bos_id=1, eos_id=2, pad_id=-1),
}

LLAMA_CONFIG = {
    "add_bos_token": True,
    "add_eos_token": False,
    "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
    "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
    "unk_token": {"__type": "AddedToken", "content": "<unk>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
    "pad_token": None,
    "clean_up_tokenization_spaces": False,
    "legacy": True,
    "model_max_length": 32,
    "sp_model_kwargs": {},
    "tokenizer_class": "LlamaTokenizer",
    "added_tokens_decoder": {
        str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
        for i, t in enumerate(["<unk>", "<s>", "</s>"])
    },
}


def encode_with_specials(sp, text, specials):
    """What a Hugging Face tokenizer does with added tokens: each one written in the text becomes its id, and the text
    between them is encoded by sentencepiece (leftmost match first, the longest at one position)."""
    ids, at = [], 0
    while at < len(text):
        hits = [(text.find(t, at), -len(t), t) for t in specials if text.find(t, at) >= 0]
        if not hits:
            break
        start, _, token = min(hits)
        if start > at:
            ids += sp.encode(text[at:start])
        ids.append(specials[token])
        at = start + len(token)
    if at < len(text):
        ids += sp.encode(text[at:])
    return ids


def main(out):
    text = corpus()
    spm.set_random_generator_seed(7)
    for name, settings in MODELS.items():
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_writer=model, num_threads=1,
                                       minloglevel=2, hard_vocab_limit=True, **settings)
        directory = os.path.join(out, name)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "tokenizer.model"), "wb") as f:
            f.write(model.getvalue())
        sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
        cases = []
        for case in CASES:
            ids = sp.encode(case)
            entry = {"text": case, "ids": ids, "pieces": sp.id_to_piece(ids), "decoded": sp.decode(ids)}
            if name == "llama-bpe":
                # Through the directory, whose tokenizer_config.json declares <unk>, <s>, </s> as added tokens.
                entry["directory_ids"] = encode_with_specials(sp, case, {"<unk>": 0, "<s>": 1, "</s>": 2})
            cases.append(entry)
        expected = {"generator": f"sentencepiece {spm.__version__}", "settings": settings, "vocab_size": sp.get_piece_size(),
                    "bos_id": sp.bos_id(), "eos_id": sp.eos_id(), "unk_id": sp.unk_id(), "cases": cases}
        with open(os.path.join(directory, "expected.json"), "w", encoding="utf-8") as f:
            f.write(json.dumps({k: v for k, v in expected.items() if k != "cases"}, ensure_ascii=False)[:-1] + ', "cases": [\n')
            f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases) + "\n]}\n")
        if name == "llama-bpe":
            with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
                json.dump(LLAMA_CONFIG, f, indent=2)
                f.write("\n")
        print(name, sp.get_piece_size(), "pieces")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
