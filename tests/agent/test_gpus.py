"""GPU selection: `--gpus` parsing, the children's environment, the worker id's GPU tag."""
from __future__ import annotations

import pytest

from trackside.agent.gpus import GpuSpecError, parse_gpus, select_gpus


@pytest.mark.parametrize("spec, devices", [
    ("0", ("0",)), ("0,1", ("0", "1")), ("0-3", ("0", "1", "2", "3")), (" 0, 2-3 ", ("0", "2", "3")),
    ("1,1,0", ("1", "0")), ("07", ("7",)), ("all", None), ("ALL", None),
    ("GPU-8f3a1c2e-aaaa-bbbb-cccc-0123456789ab", ("GPU-8f3a1c2e-aaaa-bbbb-cccc-0123456789ab",)),
    ("MIG-GPU-8f3a/1/0", ("MIG-GPU-8f3a/1/0",)),
])
def test_gpu_lists_ranges_all_and_uuids_parse(spec, devices):
    assert parse_gpus(spec) == devices


@pytest.mark.parametrize("spec", ["", " ", "3-1", "-1", "a", "0,,1", "0;1", "1.5", "0-", "gpu0"])
def test_bad_gpu_specs_are_refused_with_the_offending_part(spec):
    with pytest.raises(GpuSpecError, match="--gpus"):
        parse_gpus(spec)


def test_a_selection_sets_both_visibility_variables_and_tags_the_worker():
    selection = select_gpus("0,2-3")
    assert selection.env() == {"CUDA_VISIBLE_DEVICES": "0,2,3", "NVIDIA_VISIBLE_DEVICES": "0,2,3"}
    assert selection.tag == "gpu0,2,3"
    assert selection.indices() == [0, 2, 3]


def test_cpu_only_hides_every_gpu_and_excludes_gpus():
    selection = select_gpus(None, cpu_only=True)
    assert selection.env() == {"CUDA_VISIBLE_DEVICES": "", "NVIDIA_VISIBLE_DEVICES": "none"}
    assert selection.tag == "cpu" and selection.indices() == []
    with pytest.raises(GpuSpecError, match="exclude"):
        select_gpus("0", cpu_only=True)


def test_without_flags_the_children_inherit_and_the_tag_says_what_they_see(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    selection = select_gpus(None)
    assert selection.env() == {}
    assert selection.tag == "cpu"  # no NVML on a CPU machine
    assert selection.indices() is None
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert selection.tag == "gpu1,3" and selection.indices() == [1, 3]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert selection.tag == "cpu" and selection.indices() == []


def test_all_leaves_cuda_alone_and_exposes_every_device_to_containers(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    selection = select_gpus("all")
    assert selection.env() == {"NVIDIA_VISIBLE_DEVICES": "all"}
    assert selection.tag == "gpuall"  # NVML finds nothing here
