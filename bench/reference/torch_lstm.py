"""PyTorch reference for bench/train.ts: nn.LSTM + Linear + sigmoid BCE, Adam,
same shapes, training time steps per second on this machine's CPU (default) or
on a CUDA GPU (cuDNN's LSTM), measured for a time window after 2 warm-up
batches. Prints one JSON line; exits 3 when the device is not available.

    python3 torch_lstm.py BATCH STEPS FEATURES UNITS SECONDS [THREADS] [--device cpu|cuda]"""
import json
import sys
import time

import torch

args = sys.argv[1:]
device = "cpu"
if "--device" in args:
    i = args.index("--device")
    device = args[i + 1]
    del args[i : i + 2]
batch, steps, features, units = (int(v) for v in args[0:4])
seconds = float(args[4])
if len(args) > 5:
    torch.set_num_threads(int(args[5]))
if device.startswith("cuda") and not torch.cuda.is_available():
    print(f"torch {torch.__version__}: CUDA is not available here", file=sys.stderr)
    sys.exit(3)
torch.manual_seed(1)
lstm = torch.nn.LSTM(features, units, batch_first=True).to(device)
head = torch.nn.Linear(units, 1).to(device)
params = list(lstm.parameters()) + list(head.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
loss_fn = torch.nn.BCEWithLogitsLoss()
x = torch.randn(batch, steps, features, device=device)
y = (torch.rand(batch, 1, device=device) > 0.5).float()


def sync():
    # CUDA runs asynchronously: a time is only a time once the queued work has finished.
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step():
    opt.zero_grad()
    out, _ = lstm(x)
    loss = loss_fn(head(out[:, -1, :]), y)
    loss.backward()
    opt.step()


for _ in range(2):
    step()
sync()
batches = 0
c0 = time.process_time()
t0 = time.perf_counter()
while batches < 2 or time.perf_counter() - t0 < seconds:
    step()
    batches += 1
    if batches % 20 == 0:
        sync()
sync()
elapsed = time.perf_counter() - t0
cpu = time.process_time() - c0  # all threads
print(
    json.dumps(
        {
            "steps_per_second": batch * steps * batches / elapsed,
            "steps_per_cpu_second": batch * steps * batches / cpu,
            "batches": batches,
            "seconds": elapsed,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        }
    )
)
