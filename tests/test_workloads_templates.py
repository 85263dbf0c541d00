"""Tests for workloads.templates: the 26 job templates and their order."""

from __future__ import annotations

import dataclasses

import pytest

from workloads import TEMPLATES, load_throughputs, template_for

EXPECTED_MODELS = [
    *(f"ResNet-18 (batch size {b})" for b in (16, 32, 64, 128, 256)),
    *(f"ResNet-50 (batch size {b})" for b in (16, 32, 64, 128)),
    *(f"Transformer (batch size {b})" for b in (16, 32, 64, 128, 256)),
    *(f"LM (batch size {b})" for b in (5, 10, 20, 40, 80)),
    *(f"Recommendation (batch size {b})" for b in (512, 1024, 2048, 4096, 8192)),
    "A3C",
    "CycleGAN",
]

STEPS_ARG = {
    "ResNet-18": "--num_steps",
    "ResNet-50": "--num_minibatches",
    "Transformer": "-step",
    "LM": "--steps",
    "Recommendation": "-n",
    "A3C": "--max_steps",
    "CycleGAN": "--n_steps",
}


def _family(model: str) -> str:
    return model.split(" (")[0]


def test_templates_are_the_26_in_reference_order() -> None:
    """TEMPLATES lists the 26 models in exactly the order seeded generation relies on."""
    assert [t.model for t in TEMPLATES] == EXPECTED_MODELS


def test_only_four_families_are_distributed() -> None:
    """Only ResNet-18, ResNet-50, Transformer and LM can use several GPUs."""
    distributed = {_family(t.model) for t in TEMPLATES if t.distributed}
    assert distributed == {"ResNet-18", "ResNet-50", "Transformer", "LM"}
    assert sum(t.distributed for t in TEMPLATES) == 19


def test_only_a3c_needs_no_data_directory() -> None:
    """needs_data_dir is False for A3C alone."""
    assert [t.model for t in TEMPLATES if not t.needs_data_dir] == ["A3C"]


def test_num_steps_argument_per_family() -> None:
    """Each family has the step-count argument of its training script."""
    for template in TEMPLATES:
        assert template.num_steps_arg == STEPS_ARG[_family(template.model)]


def test_metadata_is_plain_single_line_text() -> None:
    """Commands and working directories are non-empty and fit in a TSV field."""
    for template in TEMPLATES:
        for text in (template.command, template.working_directory):
            assert text
            assert "\t" not in text
            assert "\n" not in text


def test_template_for_finds_by_model_name() -> None:
    """template_for returns the template of a known model and None otherwise."""
    for template in TEMPLATES:
        assert template_for(template.model) is template
    assert template_for("ResNet-18 (batch size 17)") is None
    assert template_for("") is None


def test_templates_are_frozen() -> None:
    """A template cannot be changed after creation."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        TEMPLATES[0].model = "x"  # type: ignore[misc]


def test_shipped_throughputs_cover_exactly_the_templates() -> None:
    """The shipped table has every template at 1 GPU and the distributed ones at 2, 4, 8."""
    expected = {(t.model, 1) for t in TEMPLATES} | {
        (t.model, n) for t in TEMPLATES if t.distributed for n in (2, 4, 8)
    }
    assert set(load_throughputs().keys()) == expected
