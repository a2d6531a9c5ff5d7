"""Reading Vega-Lite specs in tests: every layer with its data, its mark, its rows."""


def layers(spec: dict, data: dict | None = None) -> list[dict]:
    """Every unit spec (with a mark) in a Vega-Lite spec, however layered or concatenated, each with
    the data it inherits."""
    data = spec.get("data", data)
    found = [dict(spec, data=data)] if "mark" in spec else []
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for part in spec.get(key, []):
            found += layers(part, data)
    return found


def mark_type(layer: dict) -> str:
    return layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]


def data_of(spec: dict, layer: dict) -> list[dict]:
    return spec["datasets"][layer["data"]["name"]]
