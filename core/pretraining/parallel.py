"""Training on many devices: data, pipeline and tensor parallelism, and ZeRO's memory arithmetic.

Data parallelism, for real: N_d processes (here 2, on this CPU) each hold a full copy of the
model, compute gradients on their share of the batch, and all-reduce them (sum, then divide by
N_d) so every copy takes the same step. With equal shares, the mean of the shard means is the
full-batch mean, so the all-reduced gradient equals one process's full-batch gradient. Run with
torch.distributed (gloo backend, TCP on 127.0.0.1); the gradients travel as one flat buffer, as DDP's
buckets do. Each process is a fresh `python -m core.pretraining.parallel --worker`, its arguments and result
pickled over its stdin and stdout. (Not multiprocessing's spawn: a spawned child re-runs the parent's
__main__ module, and inside Streamlit that is the app's own script.)

Pipeline parallelism (GPipe, Huang et al. 2018, https://arxiv.org/abs/1811.06965): the layers are
cut into p stages on p devices and the batch into m micro-batches; a stage idles while the
pipeline fills and drains, a "bubble" of (p - 1) / (m + p - 1) of the time.

Tensor parallelism (Megatron-LM, Shoeybi et al. 2019, https://arxiv.org/abs/1909.08053): the MLP
Y = GeLU(X A), Z = Y B is split with A by columns and B by rows. Device i computes
Z_i = GeLU(X A_i) B_i with no communication (GeLU acts elementwise on its own columns), and one
all-reduce sums Z = Σ_i Z_i. Splitting A by rows instead would need a sum before the GeLU.

ZeRO (Rajbhandari et al. 2019, https://arxiv.org/abs/1910.02054): mixed-precision Adam keeps, per
parameter, 2 bytes of fp16 weights, 2 of fp16 gradients and K = 12 of fp32 optimizer state
(master weights, momentum, variance). Plain data parallelism replicates all of it on every
device; ZeRO stage 1 partitions the optimizer state over the N_d devices, stage 2 also the
gradients, stage 3 also the weights.

Shapes: B batch, T tokens, C model width, V vocabulary, N_d devices.
"""
import os
import pickle
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
from torch import nn

MAX_BATCH, MAX_SEQ, MAX_DP_STEPS, WORLD_SIZE = 64, 64, 20, 2


# ---- data parallelism across two processes -------------------------------------------------------
class TinyMLP(nn.Module):
    """A next-token model small enough to start in every process in a blink: (B, T) ids -> (B, T, V) logits.

    Each position predicts the next token from its own embedding through one MLP block:
    embed (V, C) -> up (C, 4C) -> GeLU -> down (4C, C) -> lm_head (C, V).
    """

    def __init__(self, vocab_size: int = 4096, hidden: int = 32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, hidden)
        self.up = nn.Linear(hidden, 4 * hidden)
        self.down = nn.Linear(4 * hidden, hidden)
        self.lm_head = nn.Linear(hidden, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)  # (B, T, C)
        return self.lm_head(x + self.down(nn.functional.gelu(self.up(x))))  # (B, T, V)


def make_model(seed: int) -> TinyMLP:
    torch.manual_seed(seed)  # every process builds the same weights (DDP would broadcast rank 0's)
    return TinyMLP()


def lm_loss(model: TinyMLP, batch: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy of a (B, T) batch."""
    logits = model(batch[:, :-1])  # (B, T-1, V)
    return nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())


def flat_grad(model: nn.Module) -> torch.Tensor:
    """Every parameter's gradient in one flat (P,) buffer."""
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_steps(model, batches, lr: float, all_reduce=None) -> tuple[list[float], torch.Tensor]:
    """SGD over the batches: (losses, first step's gradient); all_reduce(flat) averages across processes."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses, first = [], None
    for batch in batches:
        optimizer.zero_grad()
        loss = lm_loss(model, batch)
        loss.backward()
        if all_reduce is not None:
            flat = all_reduce(flat_grad(model))
            offset = 0
            for p in model.parameters():  # write the averaged buffer back into every .grad
                p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
                offset += p.numel()
        if first is None:
            first = flat_grad(model).clone()
        optimizer.step()
        losses.append(loss.item())
    return losses, first


def _worker(rank: int, world: int, port: int, batches: list, lr: float, seed: int) -> tuple:
    """One data-parallel process: its half of every batch, gradients all-reduced after each backward.

    Returns (rank, losses, its own first gradient, the all-reduced first gradient, final weights).
    """
    import torch.distributed as dist

    torch.set_num_threads(1)  # two processes on two cores
    if sys.platform.startswith("linux"):  # this process only: gloo on loopback ('lo'), nothing leaves the machine
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                            timeout=timedelta(seconds=60))
    try:
        model = make_model(seed)
        shards = [b.chunk(world)[rank] for b in batches]  # (B / N_d, T) each
        local_first = {}

        def all_reduce(flat: torch.Tensor) -> torch.Tensor:
            if not local_first:
                local_first["grad"] = flat.clone()  # before averaging: this process's own gradient
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            return flat / world

        losses, first = _train_steps(model, shards, lr, all_reduce)
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        return rank, losses, local_first["grad"].numpy(), first.numpy(), weights.numpy()
    finally:
        dist.destroy_process_group()


def _worker_main() -> None:
    """`python -m core.pretraining.parallel --worker`: _worker's arguments pickled on stdin, its result on stdout."""
    result_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the pickled result
    args = pickle.load(sys.stdin.buffer)
    pickle.dump(_worker(*args), result_out)
    result_out.close()


def _run_workers(batches: list, lr: float, seed: int, timeout_s: float) -> list:
    """Start WORLD_SIZE worker processes, feed each its arguments, collect their results (sorted by rank).

    Each process gets its input and is read at the same time (one thread per process): a process blocks in
    init_process_group until all have started, and writing its megabytes of result until they are read.
    """
    root = Path(__file__).resolve().parents[2]  # so that `-m core.pretraining.parallel` imports
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    port = free_port()
    procs = [subprocess.Popen([sys.executable, "-m", "core.pretraining.parallel", "--worker"], cwd=root, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(WORLD_SIZE)]
    try:
        with ThreadPoolExecutor(WORLD_SIZE) as pool:
            outputs = list(pool.map(
                lambda rank: procs[rank].communicate(pickle.dumps((rank, WORLD_SIZE, port, batches, lr, seed)),
                                                     timeout=timeout_s), range(WORLD_SIZE)))
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"data-parallel run took over {timeout_s:.0f} s") from None
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (out, err) in zip(procs, outputs):
        if proc.returncode != 0:
            raise RuntimeError(f"a data-parallel process failed: {err.decode(errors='replace')[-400:]}")
    return sorted((pickle.loads(out) for out, _ in outputs), key=lambda r: r[0])


@dataclass(frozen=True)
class DataParallelResult:
    world_size: int
    parameters: int
    batch_size: int  # B of the full batch; each process gets B / N_d
    rank_losses: tuple[tuple[float, ...], ...]  # per process, per step: loss on its own shard
    single_losses: tuple[float, ...]  # one process, full batches
    allreduced_grad: np.ndarray  # (P,) step 1's gradient after all-reduce (identical on every rank)
    local_grads: np.ndarray  # (N_d, P) step 1's gradient of each process on its shard alone
    single_grad: np.ndarray  # (P,) step 1's full-batch gradient in one process
    grad_max_diff: float  # max |allreduced - single|
    local_max_diff: float  # max |local - single|: a shard alone is not the full gradient
    ranks_weight_diff: float  # max |weights of rank 0 - rank 1| after the last step: the copies stay in sync
    weight_max_diff: float  # max |DP weights - single-process weights| after the last step
    seconds: float  # wall time of the two-process run, process start-up included


def data_parallel(batch_size: int = 16, seq_len: int = 32, steps: int = 3, lr: float = 0.5, seed: int = 0,
                  batches: list | None = None, timeout_s: float = 120.0) -> DataParallelResult:
    """Real data parallelism: 2 processes, each on half of every batch, gradients all-reduced over gloo.

    Compared with one process training on the full batches from the same initial weights.
    `batches`: a list of (B, T) token-id tensors (default: windows of the corpus).
    Starting the processes costs a few seconds (each imports torch); past timeout_s they are killed
    and TimeoutError is raised.
    """
    if batches is None:
        if not (2 <= batch_size <= MAX_BATCH and batch_size % WORLD_SIZE == 0 and 2 <= seq_len <= MAX_SEQ
                and 1 <= steps <= MAX_DP_STEPS):
            raise ValueError(f"batch_size even in 2..{MAX_BATCH}, seq_len in 2..{MAX_SEQ}, steps in 1..{MAX_DP_STEPS}")
        from core.pretraining.token_stream import token_stream
        from core.pretraining.training import random_windows

        ids, generator = token_stream("train", 20_000, every=5), torch.Generator().manual_seed(seed)
        batches = [random_windows(ids, batch_size, seq_len, generator) for _ in range(steps)]
    single = make_model(seed)
    single_losses, single_grad = _train_steps(single, batches, lr)
    single_weights = torch.cat([p.detach().flatten() for p in single.parameters()])

    start = time.perf_counter()
    results = _run_workers(batches, lr, seed, timeout_s)
    seconds = time.perf_counter() - start
    allreduced = results[0][3]
    local = np.stack([r[2] for r in results])
    single_grad = single_grad.numpy()
    return DataParallelResult(
        world_size=WORLD_SIZE, parameters=len(allreduced), batch_size=len(batches[0]),
        rank_losses=tuple(tuple(r[1]) for r in results), single_losses=tuple(single_losses),
        allreduced_grad=allreduced, local_grads=local, single_grad=single_grad,
        grad_max_diff=float(np.abs(allreduced - single_grad).max()),
        local_max_diff=float(np.abs(local - single_grad).max()),
        ranks_weight_diff=float(np.abs(results[0][4] - results[1][4]).max()),
        weight_max_diff=float(np.abs(results[0][4] - single_weights.numpy()).max()), seconds=seconds)


# ---- pipeline parallelism: the GPipe bubble --------------------------------------------------------
def bubble_fraction(p: int, m: int) -> float:
    """Idle share of a GPipe schedule: (p - 1) / (m + p - 1); (4 stages, 4 micro-batches) -> 3/7."""
    if p < 1 or m < 1:
        raise ValueError("need p >= 1 stages and m >= 1 micro-batches")
    return (p - 1) / (m + p - 1)


def bubble_table(stages=(2, 4, 8), micro_batches=(1, 2, 4, 8, 16, 32)) -> list[dict]:
    """Rows {stages, micro_batches, bubble} for a chart of the bubble against m, one line per p."""
    return [{"stages": p, "micro_batches": m, "bubble": bubble_fraction(p, m)} for p in stages for m in micro_batches]


def gpipe_schedule(p: int, m: int) -> list[dict]:
    """Every busy slot of a GPipe step (forward and backward take one slot each): rows
    {stage, slot, pass: 'forward'|'backward', micro_batch}. Stage s runs forward of micro-batch i
    at slot s + i; backward runs in reverse, last stage first. 2 (m + p - 1) slots in all.
    """
    if not (1 <= p <= 16 and 1 <= m <= 64):
        raise ValueError("p in 1..16 stages, m in 1..64 micro-batches")
    rows = []
    for s in range(p):
        for i in range(m):
            rows.append({"stage": s, "slot": s + i, "pass": "forward", "micro_batch": i})
            k = m - 1 - i  # backward order: the last micro-batch first
            rows.append({"stage": s, "slot": (m + p - 1) + (p - 1 - s) + k, "pass": "backward", "micro_batch": i})
    return rows


# ---- tensor parallelism: Megatron's MLP split --------------------------------------------------
@dataclass(frozen=True)
class TensorParallelCheck:
    n_devices: int
    shapes: dict  # name -> shape on one device
    max_diff: float  # max |Σ_i GeLU(X A_i) B_i - GeLU(X A) B|
    wrong_split_diff: float  # the same with A split by rows: GeLU of partial sums ≠ GeLU of the sum
    output_scale: float  # max |Z|


def megatron_mlp_check(n_devices: int = 2, tokens: int = 4, hidden: int = 8, seed: int = 0) -> TensorParallelCheck:
    """Z = GeLU(X A) B computed whole, and split over n devices Megatron's way (float64)."""
    if not (1 <= n_devices <= 8 and 1 <= tokens <= 64 and 1 <= hidden <= 256):
        raise ValueError("n_devices in 1..8, tokens in 1..64, hidden in 1..256")
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(tokens, hidden, generator=g, dtype=torch.float64)  # (T, C)
    A = torch.randn(hidden, 4 * hidden, generator=g, dtype=torch.float64)  # (C, 4C)
    B = torch.randn(4 * hidden, hidden, generator=g, dtype=torch.float64)  # (4C, C)
    gelu = nn.functional.gelu
    Z = gelu(X @ A) @ B  # (T, C)
    A_cols, B_rows = A.chunk(n_devices, dim=1), B.chunk(n_devices, dim=0)  # (C, 4C/n) and (4C/n, C) each
    partial = [gelu(X @ A_i) @ B_i for A_i, B_i in zip(A_cols, B_rows)]  # each (T, C), no communication
    Z_split = torch.stack(partial).sum(0)  # the all-reduce
    X_cols, A_rows = X.chunk(n_devices, dim=1), A.chunk(n_devices, dim=0)  # row split of A: X by columns
    Z_wrong = sum(gelu(X_i @ A_i) for X_i, A_i in zip(X_cols, A_rows)) @ B
    shapes = {"X (replicated)": tuple(X.shape), "A_i (column block)": tuple(A_cols[0].shape),
              "GeLU(X A_i)": (tokens, A_cols[0].shape[1]), "B_i (row block)": tuple(B_rows[0].shape),
              "Z_i (partial sum)": tuple(partial[0].shape)}
    return TensorParallelCheck(n_devices, shapes, (Z_split - Z).abs().max().item(),
                               (Z_wrong - Z).abs().max().item() if n_devices > 1 else 0.0, Z.abs().max().item())


# ---- ZeRO: memory per device ----------------------------------------------------------------------
ZERO_STAGES = ("baseline DP", "ZeRO-1 (P_os)", "ZeRO-2 (P_os+g)", "ZeRO-3 (P_os+g+p)")


def zero_memory(psi: float, n_d: int, k: int = 12) -> dict:
    """Bytes per device for weights, gradients and optimizer state, for each of ZERO_STAGES.

    baseline (2 + 2 + K) Ψ; stage 1: 2Ψ + 2Ψ + KΨ/N_d; stage 2: 2Ψ + (2 + K)Ψ/N_d;
    stage 3: (2 + 2 + K)Ψ/N_d (Rajbhandari et al. 2019, Figure 1 and section 5).
    Returns {stage: {'parameters': bytes, 'gradients': bytes, 'optimizer states': bytes, 'total': bytes}}.
    """
    if psi <= 0 or n_d < 1 or k < 0:
        raise ValueError("need psi > 0, n_d >= 1, k >= 0")
    parts = {
        ZERO_STAGES[0]: (2 * psi, 2 * psi, k * psi),
        ZERO_STAGES[1]: (2 * psi, 2 * psi, k * psi / n_d),
        ZERO_STAGES[2]: (2 * psi, 2 * psi / n_d, k * psi / n_d),
        ZERO_STAGES[3]: (2 * psi / n_d, 2 * psi / n_d, k * psi / n_d),
    }
    return {stage: {"parameters": w, "gradients": g, "optimizer states": o, "total": w + g + o}
            for stage, (w, g, o) in parts.items()}


if __name__ == "__main__" and "--worker" in sys.argv:
    _worker_main()
elif __name__ == "__main__":
    print("GPipe bubble (p - 1)/(m + p - 1):", {(r["stages"], r["micro_batches"]): round(r["bubble"], 3)
                                                for r in bubble_table((4,), (1, 4, 16))})
    tp = megatron_mlp_check()
    print(f"Megatron MLP on {tp.n_devices} devices: max |split - whole| {tp.max_diff:.1e} "
          f"(A split by rows instead: {tp.wrong_split_diff:.2f}, |Z| up to {tp.output_scale:.1f}); shapes {tp.shapes}")
    for stage, mem in zero_memory(7.5e9, 64).items():
        print(f"  {stage:18s} {mem['total'] / 1e9:6.1f} GB per device (Ψ = 7.5B, N_d = 64)")
    dp = data_parallel()
    print(f"data parallel over {dp.world_size} processes ({dp.parameters:,} parameters, "
          f"{dp.seconds:.1f} s with start-up): max |all-reduced - full-batch grad| {dp.grad_max_diff:.1e}; "
          f"one shard alone is off by {dp.local_max_diff:.1e}; "
          f"weights after {len(dp.single_losses)} steps: ranks differ by {dp.ranks_weight_diff:.1e}, "
          f"DP vs single process {dp.weight_max_diff:.1e}")
