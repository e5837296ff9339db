"""Instance catalogue and the upgrade an operator would pick for a saturated server."""

from __future__ import annotations

# GB of memory per vCPU; families ordered by that ratio so a memory-bound server moves right.
FAMILY_GB_PER_VCPU: dict[str, int] = {"c6i": 2, "m6i": 4, "r6i": 8, "i4i": 8, "x2iedn": 32}
MEMORY_LADDER = ("c6i", "m6i", "r6i", "x2iedn")
SIZE_VCPUS: dict[str, int] = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "16xlarge": 64,
}
_SMALLEST = {"i4i": "xlarge", "x2iedn": "xlarge"}

INSTANCE_TYPES: dict[str, tuple[int, int]] = {  # vCPUs, memory GB
    f"{family}.{size}": (vcpus, vcpus * gb)
    for family, gb in FAMILY_GB_PER_VCPU.items()
    for size, vcpus in SIZE_VCPUS.items()
    if vcpus >= SIZE_VCPUS[_SMALLEST.get(family, "large")]
}


def upgrade_for(instance_type: str, memory_only: bool) -> str | None:
    """The next instance for a saturated server, or None at the top of the range.

    Memory-bound servers move to the next memory-richer family at the same size (same vCPUs,
    more memory); anything else doubles within the family.
    """
    family, size = instance_type.split(".")
    if memory_only and family in MEMORY_LADDER:
        for richer in MEMORY_LADDER[MEMORY_LADDER.index(family) + 1 :]:
            if f"{richer}.{size}" in INSTANCE_TYPES:
                return f"{richer}.{size}"
    sizes = list(SIZE_VCPUS)
    for bigger in sizes[sizes.index(size) + 1 :]:
        if f"{family}.{bigger}" in INSTANCE_TYPES:
            return f"{family}.{bigger}"
    return None
