"""The reference recipe's twin stage: a concept -> its twin, asked of the recipe's generator."""

from cultureclip.builder.stages.paper_text import AskStage
from cultureclip.builder.stages.replies import ReplyError, fields_schema, parse_fields
from cultureclip.data.text import fold


class TwinPromptStage(AskStage):
    """A concept -> its twin: a visually similar, culturally different concept of the same category,
    with its country, context and the visual features that tell it apart (kept, unlike the reference)."""

    name = "twins"
    inputs = ("name", "country", "category", "context", "features")
    outputs = ("twin_name", "twin_country", "twin_context", "twin_features")
    reply = ("concept", "country", "context", "features")
    schema = fields_schema(reply)

    def process(self, rows: list[dict]) -> list[dict]:
        prompts = [self.prompts["twin"].format(**r) for r in rows]

        def parse(i: int, text: str) -> dict:
            twin = parse_fields(text, self.reply)
            if fold(twin["concept"]) == fold(rows[i]["name"]):
                raise ReplyError("the twin is the concept itself")
            return twin

        return [
            {f"twin_{k}" if k != "concept" else "twin_name": x for k, x in v.items()}
            if v
            else {"status": "failed", "reason": f"twin: {why}"}
            for v, why in self.ask(prompts, parse, schema=self.schema)
        ]
