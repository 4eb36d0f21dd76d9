"""Two ways to hold a server's KV cache: one contiguous range per request, or PagedAttention's blocks.

A *contiguous* allocator reserves one range of slots per request, sized for the longest it could
ever get (P + max_new_tokens), because the range cannot grow in place. A *paged* allocator
(PagedAttention) cuts memory into blocks of B token slots and hands a request one more block only
when its last block is full; a block table maps the request's logical blocks to physical blocks,
like virtual memory pages. Waste is at most B - 1 slots per request.

Both expose reserve / grow / free, the slots reserved, an owner map of the memory, and the physical
slot of a request's token, so the scheduler in serving.py drives either.

Paper: vLLM / PagedAttention, https://arxiv.org/abs/2309.06180
"""
import numpy as np


class BlockAllocator:
    """PagedAttention's block manager: a free list of physical blocks and one block table per request.

    >>> a = BlockAllocator(num_blocks=4, block_size=2)
    >>> a.reserve(7, tokens_now=3, tokens_max=10), a.block_tables[7]
    (True, [0, 1])
    """

    def __init__(self, num_blocks: int, block_size: int) -> None:
        self.num_blocks, self.block_size = num_blocks, block_size
        self.free_blocks = list(range(num_blocks - 1, -1, -1))  # a stack: pop() hands out 0, 1, 2, ...
        self.block_tables: dict[int, list[int]] = {}  # request id -> physical block of each logical block

    def blocks_for(self, n_tokens: int) -> int:
        return -(-n_tokens // self.block_size)

    def grow(self, rid: int, n_tokens: int) -> bool:
        """Make the request's table cover n_tokens slots; False (and no change) if blocks run out."""
        table = self.block_tables.setdefault(rid, [])
        missing = self.blocks_for(n_tokens) - len(table)
        if missing > len(self.free_blocks):
            if not table:
                del self.block_tables[rid]
            return False
        table.extend(self.free_blocks.pop() for _ in range(max(0, missing)))
        return True

    def reserve(self, rid: int, tokens_now: int, tokens_max: int) -> bool:
        """Admit a request: blocks for what it holds now, nothing for what it might hold later."""
        return self.grow(rid, tokens_now)

    def free(self, rid: int) -> None:
        self.free_blocks.extend(reversed(self.block_tables.pop(rid, [])))

    @property
    def reserved_slots(self) -> int:
        return (self.num_blocks - len(self.free_blocks)) * self.block_size

    def owner_map(self) -> np.ndarray:
        """(capacity,) the request id owning each physical slot, -1 where free."""
        owner = np.full(self.num_blocks * self.block_size, -1)
        for rid, table in self.block_tables.items():
            for block in table:
                owner[block * self.block_size : (block + 1) * self.block_size] = rid
        return owner

    def slot_of(self, rid: int, position: int) -> int:
        """The physical slot of a request's token: block_table[position // B] * B + position % B."""
        return self.block_tables[rid][position // self.block_size] * self.block_size + position % self.block_size


class ContiguousAllocator:
    """One contiguous range per request, sized for the longest it may become, placed first-fit.

    >>> a = ContiguousAllocator(capacity=10)
    >>> a.reserve(0, tokens_now=3, tokens_max=6), a.reserve(1, tokens_now=3, tokens_max=6)
    (True, False)
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.ranges: dict[int, tuple[int, int]] = {}  # request id -> (first slot, length)

    def reserve(self, rid: int, tokens_now: int, tokens_max: int) -> bool:
        start = 0
        for first, length in sorted(self.ranges.values()):
            if first - start >= tokens_max:
                break
            start = first + length
        if start + tokens_max > self.capacity:
            return False  # no hole is large enough (external fragmentation may be why)
        self.ranges[rid] = (start, tokens_max)
        return True

    def grow(self, rid: int, n_tokens: int) -> bool:
        return n_tokens <= self.ranges[rid][1]  # already reserved at admission

    def free(self, rid: int) -> None:
        self.ranges.pop(rid, None)

    @property
    def reserved_slots(self) -> int:
        return sum(length for _, length in self.ranges.values())

    def owner_map(self) -> np.ndarray:
        owner = np.full(self.capacity, -1)
        for rid, (first, length) in self.ranges.items():
            owner[first : first + length] = rid
        return owner

    def slot_of(self, rid: int, position: int) -> int:
        return self.ranges[rid][0] + position
