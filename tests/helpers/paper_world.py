"""The reference recipe's models, scripted for a loopback OpenAI-compatible server (`ChatServer(fake_model)`): the
concept, twin and caption writer and the vision judge, with broken replies where re-asks are tested; and the
overrides that shrink the `paper-build` preset to tiny models and sizes."""

import json
import re

CONCEPTS = {"Cuisine": "onigiri", "Clothing": "kimono", "Animal & Plants": "sakura", "Architecture": "pagoda"}
TWINS = {
    "onigiri": ("gimbap", "South Korea"),
    "kimono": ("hanbok", "South Korea"),
    "sakura": ("plum blossom", "China"),
    "pagoda": ("stupa", "Nepal"),
}
SCENES = ("scene one", "scene two", "scene three")


def fake_model(prompt: str, attempt: int) -> tuple[int, str, float]:
    """The recipe's generator and judge, scripted: broken replies first where the test wants re-asks."""
    reasked = "previous reply was rejected" in prompt
    if match := re.search(r'Name one concept from (.+?) in the category "(.+?)"', prompt):
        name = CONCEPTS.get(match[2])
        if name is None:
            return 200, "I cannot answer that.", 0  # Art: never parses -> the prompt fails with the reason
        if name == "onigiri" and not reasked:
            return 200, "Sure! Onigiri is a rice ball.", 0
        reply = {"concept": name, "context": f"{name} matters in Japan.", "features": f"the shape of {name}"}
        return 200, f"```json\n{json.dumps(reply)}\n```", 0
    if match := re.search(r"Concept: (.+?), from", prompt):
        twin, country = TWINS[match[1]]
        reply = {"concept": twin, "country": country, "context": f"{twin} in {country}.", "features": "its colours"}
        return 200, json.dumps(reply), 0
    if match := re.search(r"Write 3 image captions of (.+?) \(", prompt):
        name = match[1]
        if reasked:
            return 200, json.dumps([f"{name} on a table, {SCENES[2]}."]), 0
        too_long = f"{name} " + "very " * 11 + f"long, {SCENES[2]}."  # 15 words
        return (
            200,
            "Here they are: " + json.dumps([f"{name} at home, {SCENES[0]}.", f"{name}, {SCENES[1]}.", too_long]),
            0,
        )
    if match := re.search(r'caption "(.+?)"\. It should show (.+?), from', prompt):
        caption, name = match[1], match[2]
        twin = name in {t for t, _ in TWINS.values()}
        scores = (
            (1, 5, 5)
            if twin and SCENES[1] in caption
            else (3, 3, 3)
            if not twin and SCENES[2] in caption
            else (4, 3, 3)
        )
        if twin and SCENES[0] in caption:  # bare numbers, one as a string: accepted
            return 200, json.dumps({"authenticity": 4, "consistency": "3", "cultural_fidelity": 3}), 0
        keys = ("authenticity", "consistency", "cultural_fidelity")
        return 200, json.dumps({k: {"score": s, "reason": f"{k} is {s}"} for k, s in zip(keys, scores, strict=True)}), 0
    return 400, "unexpected prompt", 0


def overrides(url: str) -> list[str]:
    """Models and sizes only: the preset itself is unchanged."""
    model = ["name=openai:fake-vlm", f"base_url={url}", "backoff_s=0.01", "temperature=0"]
    return [
        *[f"build.paper.generator.{m}" for m in model],
        *[f"judge.model.{m}" for m in model],
        "build.renderer=tiny:sd",
        "build.image_size=16",
        "build.images.steps=2",
        "build.images.batch_size=8",
        "executor.chunk_rows=16",
        "build.paper.countries=[Japan]",
        "build.paper.max_prompts=5",
        "build.paper.captions_per_concept=3",
        "build.paper.images_per_caption=2",
        "build.paper.test_every=2",
        "model.name=config:test-clip",
    ]
