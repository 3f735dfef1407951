"""PyTorch reference for bench/train.ts: nn.LSTM + Linear + sigmoid BCE, Adam,
same shapes, training time steps per second on this CPU. Prints one JSON line."""
import json
import sys
import time

import torch

batch, steps, features, units, batches = (int(v) for v in sys.argv[1:6])
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


for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(batches):
    step()
seconds = time.perf_counter() - t0
print(json.dumps({"steps_per_second": batch * steps * batches / seconds, "torch": torch.__version__, "threads": torch.get_num_threads()}))
