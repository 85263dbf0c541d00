"""The 26 job templates of the Gavel workload, in the order seeded generation draws from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobTemplate:
    """One kind of training job: its model name and how it would be launched.

    Only ``model`` and ``distributed`` matter to the simulation; the command
    fields are metadata carried into traces.
    """

    model: str
    command: str
    working_directory: str
    num_steps_arg: str
    needs_data_dir: bool
    distributed: bool


def _resnet18(batch: int) -> JobTemplate:
    return JobTemplate(
        model=f"ResNet-18 (batch size {batch})",
        command=f"python3 main.py --data_dir=data/cifar10 --batch_size {batch}",
        working_directory="workloads/pytorch/image_classification/cifar10",
        num_steps_arg="--num_steps",
        needs_data_dir=True,
        distributed=True,
    )


def _resnet50(batch: int) -> JobTemplate:
    return JobTemplate(
        model=f"ResNet-50 (batch size {batch})",
        command=f"python3 main.py --arch resnet50 --batch-size {batch} data/imagenet",
        working_directory="workloads/pytorch/image_classification/imagenet",
        num_steps_arg="--num_minibatches",
        needs_data_dir=True,
        distributed=True,
    )


def _transformer(batch: int) -> JobTemplate:
    return JobTemplate(
        model=f"Transformer (batch size {batch})",
        command=f"python3 train.py -data data/translation/multi30k.pt -batch_size {batch}",
        working_directory="workloads/pytorch/translation",
        num_steps_arg="-step",
        needs_data_dir=True,
        distributed=True,
    )


def _language_model(batch: int) -> JobTemplate:
    return JobTemplate(
        model=f"LM (batch size {batch})",
        command=f"python3 main.py --cuda --data data/wikitext2 --batch_size {batch}",
        working_directory="workloads/pytorch/language_modeling",
        num_steps_arg="--steps",
        needs_data_dir=True,
        distributed=True,
    )


def _recommendation(batch: int) -> JobTemplate:
    return JobTemplate(
        model=f"Recommendation (batch size {batch})",
        command=f"python3 train.py --data_dir data/ml-20m --batch_size {batch}",
        working_directory="workloads/pytorch/recommendation",
        num_steps_arg="-n",
        needs_data_dir=True,
        distributed=False,
    )


_A3C = JobTemplate(
    model="A3C",
    command="python3 main.py --env PongDeterministic-v4 --workers 4",
    working_directory="workloads/pytorch/rl",
    num_steps_arg="--max_steps",
    needs_data_dir=False,
    distributed=False,
)

_CYCLEGAN = JobTemplate(
    model="CycleGAN",
    command="python3 cyclegan.py --dataset_path data/monet2photo --decay_epoch 0",
    working_directory="workloads/pytorch/cyclegan",
    num_steps_arg="--n_steps",
    needs_data_dir=True,
    distributed=False,
)

TEMPLATES: tuple[JobTemplate, ...] = (
    *(_resnet18(b) for b in (16, 32, 64, 128, 256)),
    *(_resnet50(b) for b in (16, 32, 64, 128)),
    *(_transformer(b) for b in (16, 32, 64, 128, 256)),
    *(_language_model(b) for b in (5, 10, 20, 40, 80)),
    *(_recommendation(b) for b in (512, 1024, 2048, 4096, 8192)),
    _A3C,
    _CYCLEGAN,
)
"""All templates, in the exact order the seeded generator chooses from."""

_BY_MODEL: dict[str, JobTemplate] = {t.model: t for t in TEMPLATES}


def template_for(model: str) -> JobTemplate | None:
    """The template whose model name is ``model``, or None if there is none."""
    return _BY_MODEL.get(model)
