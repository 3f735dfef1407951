"""PyTorch reference for bench/train.ts: nn.LSTM + Linear + sigmoid BCE, Adam,
same shapes, training time steps per second on this CPU, measured for a time
window after 2 warm-up batches. Prints one JSON line.

    python3 torch_lstm.py BATCH STEPS FEATURES UNITS SECONDS [THREADS]"""
import json
import sys
import time

import torch

batch, steps, features, units = (int(v) for v in sys.argv[1:5])
seconds = float(sys.argv[5])
if len(sys.argv) > 6:
    torch.set_num_threads(int(sys.argv[6]))
torch.manual_seed(1)
lstm = torch.nn.LSTM(features, units, batch_first=True)
head = torch.nn.Linear(units, 1)
params = list(lstm.parameters()) + list(head.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
loss_fn = torch.nn.BCEWithLogitsLoss()
x = torch.randn(batch, steps, features)
y = (torch.rand(batch, 1) > 0.5).float()


def step():
    opt.zero_grad()
    out, _ = lstm(x)
    loss = loss_fn(head(out[:, -1, :]), y)
    loss.backward()
    opt.step()


for _ in range(2):
    step()
batches = 0
c0 = time.process_time()
t0 = time.perf_counter()
while batches < 2 or time.perf_counter() - t0 < seconds:
    step()
    batches += 1
elapsed = time.perf_counter() - t0
cpu = time.process_time() - c0  # all threads
print(json.dumps({"steps_per_second": batch * steps * batches / elapsed, "steps_per_cpu_second": batch * steps * batches / cpu, "batches": batches, "seconds": elapsed, "torch": torch.__version__, "threads": torch.get_num_threads()}))
