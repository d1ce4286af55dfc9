"""Twin mining on a small catalogue with the real offline MiniLM embedder (loaded once per module)."""

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from cultureclip.backends.embed import create_text_embedder
from cultureclip.catalog import ConceptSketch, load_catalog
from cultureclip.catalog.image_similarity import image_similarity
from cultureclip.catalog.neighbours import describe
from cultureclip.catalog.twins import mine_twins
from cultureclip.cli import main
from cultureclip.config import MiningConfig

SKETCH = """id,name,culture,category,generic,visual,twin_group
jiaozi,jiaozi,China,dish,dumpling,"Plump white crescent dumplings with pleated edges, boiled.",dumpling
baozi,baozi,China,dish,steamed bun,"Round fluffy white steamed buns with a swirl of pleats on top.",
pelmeni,pelmeni,Russia,dish,dumpling,"Small plump pale dumplings with smooth sealed edges, in broth.",dumpling
naan,naan,India,bread,flatbread,"Soft teardrop-shaped flatbread with charred blisters from a tandoor.",flatbread
tortilla,tortilla,Mexico,bread,flatbread,"Thin round pale flatbread with light brown spots from a griddle.",flatbread
torii,torii,Japan,building,gate,"Two vermilion pillars joined by two crossbeams at a shrine entrance.",
paifang,paifang,China,building,gate,"Ornamental gateway of red pillars and beams topped with tiled roofs.",
"""


@pytest.fixture(scope="module")
def embedder():
    return create_text_embedder()


@pytest.fixture
def sketch(tmp_path):
    path = tmp_path / "sketch.csv"
    path.write_text(SKETCH)
    return path


def _cosine(embedder, a: ConceptSketch, b: ConceptSketch, template: str) -> float:
    va, vb = embedder.embed([describe(a, template), describe(b, template)])
    return float(va @ vb)


def test_neighbours_are_other_cultures_in_related_categories_scored_by_cosine(sketch, embedder):
    catalog = load_catalog(sketch, schema=ConceptSketch)
    cfg = MiningConfig(k=3)
    mined = mine_twins(catalog, cfg, embedder)
    assert [t for t, _ in mined.neighbours["torii"]] == ["paifang"], "only other cultures, same or related category"
    assert [t for t, _ in mined.neighbours["paifang"]] == ["torii"]
    assert "baozi" not in [t for t, _ in mined.neighbours["jiaozi"]], "never the same culture"
    assert {t for t, _ in mined.neighbours["jiaozi"]} == {"pelmeni", "naan", "tortilla"}, "bread is related to dish"
    by_id = catalog.by_id
    for concept_id, twins in mined.neighbours.items():
        scores = [s for _, s in twins]
        assert scores == sorted(scores, reverse=True)
        for twin, score in twins:
            penalty = cfg.related_penalty if by_id[twin].category != by_id[concept_id].category else 0.0
            expected = _cosine(embedder, by_id[concept_id], by_id[twin], cfg.text) - penalty
            assert score == pytest.approx(expected, abs=1e-3)
    assert mined.neighbours["pelmeni"][0][0] == "jiaozi"


def test_groups_keep_curated_ones_and_mine_new_ones_with_reasons(sketch, embedder):
    catalog = load_catalog(sketch, schema=ConceptSketch)
    mined = mine_twins(catalog, MiningConfig(k=3, min_score=0.3), embedder)
    curated = [g for g in mined.groups if g["curated"]]
    assert [(g["group"], g["members"]) for g in curated] == [
        ("dumpling", ["jiaozi", "pelmeni"]),
        ("flatbread", ["naan", "tortilla"]),
    ]
    assert curated[0]["links"][0]["reason"] == "curated twin group 'dumpling'"
    new = [g for g in mined.groups if not g["curated"]]
    assert ["torii", "paifang"] in [sorted(g["members"], reverse=True) for g in new]
    for group in new:
        cultures = [catalog.by_id[m].culture for m in group["members"]]
        assert len(set(cultures)) == len(cultures) and 2 <= len(cultures) <= 4
        for link in group["links"]:
            assert link["reason"].startswith("mutual top-3 look-alikes by description, score")
            pair = {link["a"], link["b"]}
            assert not pair <= {"jiaozi", "pelmeni"} and not pair <= {"naan", "tortilla"}, "curated pairs stay curated"


class FakeJudge:
    """A text generator that confirms only pairs about gates."""

    def __init__(self):
        self.prompts = []

    def generate(self, prompts):
        self.prompts += prompts
        return ["Yes, both are red shrine gates." if "torii" in p else "No: different things." for p in prompts]


def test_a_text_generator_confirms_or_drops_mined_links(sketch, embedder):
    catalog = load_catalog(sketch, schema=ConceptSketch)
    judge = FakeJudge()
    mined = mine_twins(catalog, MiningConfig(k=3, min_score=0.3), embedder, generator=judge)
    new = [g for g in mined.groups if not g["curated"]]
    assert [g["members"] for g in new] == [["torii", "paifang"]]
    assert new[0]["links"][0]["reason"].endswith("; LLM: yes, both are red shrine gates")
    unconfirmed = mine_twins(catalog, MiningConfig(k=3, min_score=0.3), embedder)
    links = [link for g in unconfirmed.groups if not g["curated"] for link in g["links"]]
    asked = "".join(judge.prompts)
    assert len(links) > 1 and all(f"A: {link['a']} (" in asked and f"B: {link['b']} (" in asked for link in links)
    assert "A: torii (Japan, building): Two vermilion pillars" in "".join(judge.prompts)


class FakeProposer:
    """A text generator that, asked about torii, picks candidate 1 and an out-of-range 9; else none."""

    def __init__(self):
        self.prompts = []

    def generate(self, prompts):
        self.prompts += prompts
        return ["1 and 9" if p.startswith("A cultural concept: torii") else "none" for p in prompts]


def test_a_text_generator_can_propose_the_links_among_the_best_candidates(sketch, embedder):
    catalog = load_catalog(sketch, schema=ConceptSketch)
    proposer = FakeProposer()
    mined = mine_twins(catalog, MiningConfig(k=1, generator_role="propose"), embedder, generator=proposer)
    assert len(proposer.prompts) == 7, "one prompt per concept"
    assert "Candidates from other cultures:\n1. paifang (China): Ornamental gateway" in proposer.prompts[5]
    assert "2. " not in proposer.prompts[5], "torii has one candidate: its top 2k (k=1) holds paifang only"
    new = [g for g in mined.groups if not g["curated"]]
    assert [g["members"] for g in new] == [["torii", "paifang"]]
    link = new[0]["links"][0]
    assert link["reason"] == f"proposed by the text generator among the top 1; score {link['score']:.2f}"
    assert link["score"] == mined.neighbours["torii"][0][1]


def test_image_similarity_blends_in_where_both_concepts_have_images(sketch, embedder, tmp_path):
    folder = tmp_path / "images"
    (folder / "pelmeni").mkdir(parents=True)
    Image.new("RGB", (32, 32), (240, 230, 200)).save(folder / "jiaozi.png")
    Image.new("RGB", (32, 32), (230, 220, 210)).save(folder / "pelmeni" / "a.jpg")
    catalog = load_catalog(sketch, schema=ConceptSketch)
    ids = [c.id for c in catalog.concepts]
    has, image = image_similarity(ids, folder, "config:test-clip")
    assert has.tolist() == [i in ("jiaozi", "pelmeni") for i in ids]
    cfg = MiningConfig(k=3, image_weight=0.5)
    text_only = dict(mine_twins(catalog, cfg, embedder).neighbours["jiaozi"])
    blended = dict(mine_twins(catalog, cfg, embedder, images=(has, image)).neighbours["jiaozi"])
    j, p = ids.index("jiaozi"), ids.index("pelmeni")
    assert blended["pelmeni"] == pytest.approx(0.5 * text_only["pelmeni"] + 0.5 * float(image[j, p]), abs=1e-3)
    assert blended["naan"] == text_only["naan"], "no image for naan: text score only"
    assert np.isclose(image[j, j], 1.0, atol=1e-5)


def test_cli_twins_writes_one_line_per_concept_and_groups_next_to_the_catalogue(sketch, capsys):
    out = sketch.parent / "twins.jsonl"
    assert main(["catalog", "twins", "--catalog", str(sketch), "--k", "2", "--out", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["jiaozi", "baozi", "pelmeni", "naan", "tortilla", "torii", "paifang"]
    assert all(set(line) == {"id", "twins"} and len(line["twins"]) <= 2 for line in lines)
    assert all(set(t) == {"id", "score"} for line in lines for t in line["twins"])
    assert lines[5] == {"id": "torii", "twins": [{"id": "paifang", "score": lines[5]["twins"][0]["score"]}]}
    groups = [json.loads(line) for line in (sketch.parent / "sketch.twin_groups.jsonl").read_text().splitlines()]
    nowhere = str(sketch.parent / "nowhere")
    assert main(["catalog", "twins", "--catalog", str(sketch), "--out", str(out), f"mining.images={nowhere}"]) == 2
    assert f"{nowhere}: no such folder of concept images (mining.images)" in capsys.readouterr().err.replace("\n", "")
    assert [g["group"] for g in groups if g["curated"]] == ["dumpling", "flatbread"]
    assert main(["catalog", "stats", "--catalog", str(sketch), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    mined = sum(not g["curated"] for g in groups)
    assert stats == {
        "concepts": 7,
        "cultures": 5,
        "categories": 3,
        "twin_groups": 2 + mined,
        "curated_twin_groups": 2,
        "native_names": 0,
        "name_languages": 0,
    }


def test_a_catalogue_in_its_own_category_vocabulary_checks_and_mines_within_its_categories(tmp_path, capsys):
    rows = [
        {"id": "baklava", "name": "baklava", "culture": "Turkey", "category": "dessert", "visual": "layered pastry"},
        {
            "id": "mille-feuille",
            "name": "mille-feuille",
            "culture": "France",
            "category": "dessert",
            "visual": "layered pastry with cream",
        },
        {"id": "ikat", "name": "ikat", "culture": "Indonesia", "category": "textile", "visual": "layered pastry"},
        {"id": "kente", "name": "kente", "culture": "Ghana", "category": "textile", "visual": "woven cloth strips"},
    ]
    catalog = tmp_path / "mine.yaml"
    catalog.write_text(yaml.safe_dump(rows))
    assert main(["catalog", "check", str(catalog)]) == 1
    problems = capsys.readouterr().out.splitlines()
    assert problems[0] == (
        f"{catalog}: row 1 (baklava): category: Value error, category 'dessert' is not one of dish, bread, drink, "
        "garment, headwear, footwear, building, instrument, craft, festival, game (declare your own in "
        "catalog.categories)"
    )
    vocabulary = "catalog.categories=[dessert, textile]"
    assert main(["catalog", "check", str(catalog), "--set", vocabulary]) == 1  # sketches: full rows need more
    assert not [p for p in capsys.readouterr().out.splitlines() if "category" in p]
    out = tmp_path / "twins.jsonl"
    argv = ["catalog", "twins", "--catalog", str(catalog), "--out", str(out), vocabulary, "mining.min_score=0"]
    assert main(argv) == 0
    twins = {line["id"]: [t["id"] for t in line["twins"]] for line in map(json.loads, out.read_text().splitlines())}
    # ikat's visual text equals baklava's, yet mining keeps each category to itself
    assert twins == {"baklava": ["mille-feuille"], "mille-feuille": ["baklava"], "ikat": ["kente"], "kente": ["ikat"]}
