"""Optimizers and schedulers against PyTorch: same float64 start, same given gradients -> same trajectory.

Gradients are handed to both libraries (not computed), so these tests check the update rules alone.
"""
import numpy as np
import pytest

import tinygrad_bn.optim as optim
from tinygrad_bn import Tensor, cuda_available
from tinygrad_bn.backend import device_of
from tinygrad_bn.optim import lr_scheduler

torch = pytest.importorskip("torch")

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu,
                                              pytest.mark.skipif(not cuda_available(), reason="needs CuPy and a GPU")])]

SHAPES = [(3, 4), (4,)]  # a weight and a bias
N_STEPS = 5

OPTIMIZER_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4, "weight_decay": 0.1}),
]
CASE_IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kwargs.items())}" for name, kwargs in OPTIMIZER_CASES]


def make_problem(seed=0, n_steps=N_STEPS):
    """Initial parameters and a fixed gradient sequence: grads[step][i] is the gradient of parameter i."""
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(shape) for shape in SHAPES]
    grads = [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(n_steps)]
    return initial, grads


def run_ours(params, optimizer, grads):
    """Feed each step's gradients to `params`, step, and record the parameters after every step."""
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = Tensor(g, device=p.device, dtype=p.dtype)
        optimizer.step()
        trajectory.append([p.numpy().copy() for p in params])
    return trajectory


def run_torch(name, kwargs, initial, grads):
    params = [torch.tensor(x, requires_grad=True) for x in initial]
    optimizer = getattr(torch.optim, name)(params, **kwargs)
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        optimizer.step()
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=CASE_IDS)
def test_trajectory_matches_torch(name, kwargs, device):
    initial, grads = make_problem()
    params = [Tensor(x, requires_grad=True, device=device) for x in initial]
    ours = run_ours(params, getattr(optim, name)(params, **kwargs), grads)
    expected = run_torch(name, kwargs, initial, grads)
    for step, (ours_step, torch_step) in enumerate(zip(ours, expected)):
        for a, b in zip(ours_step, torch_step):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10, err_msg=f"step {step + 1}")


def test_param_groups_with_their_own_hyperparameters_match_torch():
    initial, grads = make_problem(seed=1)
    ours_params = [Tensor(x, requires_grad=True) for x in initial]
    torch_params = [torch.tensor(x, requires_grad=True) for x in initial]
    ours = optim.SGD([{"params": [ours_params[0]]}, {"params": ours_params[1:], "lr": 0.01, "momentum": 0.5}],
                     lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch_params[0]]}, {"params": torch_params[1:], "lr": 0.01,
                                                              "momentum": 0.5}], lr=0.1, momentum=0.9)
    for step_grads in grads:
        for p, q, g in zip(ours_params, torch_params, step_grads):
            p.grad, q.grad = Tensor(g), torch.tensor(g)
        ours.step()
        theirs.step()
    for p, q in zip(ours_params, torch_params):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=CASE_IDS)
def test_float32_stays_float32_in_place(name, kwargs, device):
    """Updates keep the parameter's dtype and write into its array, never replace it."""
    initial, grads = make_problem()
    params = [Tensor(x, requires_grad=True, dtype="float32", device=device) for x in initial]
    arrays = [p.array for p in params]
    optimizer = getattr(optim, name)(params, **kwargs)
    run_ours(params, optimizer, grads)
    for p, array in zip(params, arrays):
        assert p.array is array and p.dtype == np.float32 and p.is_leaf
    for state in optimizer.state.values():
        for value in state.values():
            assert not hasattr(value, "dtype") or value.dtype == np.float32


def test_params_without_grad_are_skipped():
    initial, grads = make_problem()
    used, unused = Tensor(initial[0], requires_grad=True), Tensor(initial[1], requires_grad=True)
    optimizer = optim.Adam([used, unused], lr=0.1, weight_decay=0.1)
    used.grad = Tensor(grads[0][0])
    optimizer.step()
    np.testing.assert_array_equal(unused.numpy(), initial[1])
    assert id(unused) not in optimizer.state
    assert not np.allclose(used.numpy(), initial[0])


def test_zero_grad():
    p = Tensor(np.ones(3), requires_grad=True)
    optimizer = optim.SGD([p], lr=0.1)
    p.grad = Tensor(np.full(3, 2.0))
    grad_array = p.grad.array
    optimizer.zero_grad(set_to_none=False)
    assert p.grad.array is grad_array and not grad_array.any()
    optimizer.zero_grad()
    assert p.grad is None


def test_step_returns_the_closures_loss():
    p = Tensor(np.ones(2), requires_grad=True)
    optimizer = optim.SGD([p], lr=0.1)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 2.0
    np.testing.assert_allclose(p.numpy(), [0.8, 0.8])


# ------------------------------------------------------------------------------------------------- state_dict

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, kwargs", OPTIMIZER_CASES, ids=CASE_IDS)
def test_state_dict_round_trip_resumes_exactly(name, kwargs, device):
    """3 steps, save, a fresh optimizer loads the save, 2 more steps == 5 steps straight."""
    initial, grads = make_problem()
    straight = [Tensor(x, requires_grad=True, device=device) for x in initial]
    run_ours(straight, getattr(optim, name)(straight, **kwargs), grads)

    first = [Tensor(x, requires_grad=True, device=device) for x in initial]
    first_optimizer = getattr(optim, name)(first, **kwargs)
    run_ours(first, first_optimizer, grads[:3])
    saved = first_optimizer.state_dict()
    values_after_3 = [p.numpy().copy() for p in first]
    run_ours(first, first_optimizer, grads[3:4])  # later steps must not change the snapshot

    for state in saved["state"].values():  # a host snapshot, whatever the device
        assert all(type(value) is np.ndarray for name, value in state.items() if name != "step")

    resumed = [Tensor(x, requires_grad=True, device=device) for x in values_after_3]
    resumed_optimizer = getattr(optim, name)(resumed, lr=123.0)  # hyperparameters come from the save
    resumed_optimizer.load_state_dict(saved)
    for state in resumed_optimizer.state.values():  # loading moved the arrays onto the parameters' device
        assert all(device_of(value) == device for name, value in state.items() if name != "step")
    run_ours(resumed, resumed_optimizer, grads[3:])
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_state_dict_layout_is_pytorchs():
    initial, grads = make_problem()
    params = [Tensor(x, requires_grad=True) for x in initial]
    optimizer = optim.Adam(params, lr=0.01)
    run_ours(params, optimizer, grads[:2])
    saved = optimizer.state_dict()
    torch_params = [torch.tensor(x, requires_grad=True) for x in initial]
    torch_saved = torch.optim.Adam(torch_params, lr=0.01).state_dict()
    assert saved["param_groups"][0]["params"] == torch_saved["param_groups"][0]["params"] == [0, 1]
    assert set(saved["state"]) == {0, 1}
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert saved["state"][0]["step"] == 2
    assert all(type(saved["state"][0][k]) is np.ndarray for k in ("exp_avg", "exp_avg_sq"))


def test_load_state_dict_casts_to_the_parameters_dtype():
    initial, grads = make_problem()
    params64 = [Tensor(x, requires_grad=True) for x in initial]
    optimizer64 = optim.SGD(params64, lr=0.1, momentum=0.9)
    run_ours(params64, optimizer64, grads[:2])
    params32 = [Tensor(x, requires_grad=True, dtype="float32") for x in initial]
    optimizer32 = optim.SGD(params32, lr=0.1, momentum=0.9)
    optimizer32.load_state_dict(optimizer64.state_dict())
    for p in params32:
        assert optimizer32.state[id(p)]["momentum_buffer"].dtype == np.float32


def test_load_state_dict_rejects_a_different_layout():
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    saved = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError):
        optim.SGD([a], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)


# ------------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=-0.1),
    lambda p: optim.SGD(p, lr=0.1, momentum=-0.5),
    lambda p: optim.SGD(p, lr=0.1, weight_decay=-1),
    lambda p: optim.SGD(p, lr=0.1, nesterov=True),
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
    lambda p: optim.Adam(p, lr=-1e-3),
    lambda p: optim.Adam(p, betas=(1.0, 0.999)),
    lambda p: optim.Adam(p, betas=(0.9, -0.1)),
    lambda p: optim.Adam(p, eps=-1e-8),
    lambda p: optim.AdamW(p, weight_decay=-0.01),
    lambda p: optim.SGD([], lr=0.1),
    lambda p: optim.SGD([{"params": p}, {"params": p}], lr=0.1),  # one tensor in two groups
])
def test_bad_hyperparameters_raise_value_error(make):
    with pytest.raises(ValueError):
        make([Tensor(np.ones(2), requires_grad=True)])


def test_bad_params_raise_type_error():
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError):
        optim.SGD(p, lr=0.1)  # a Tensor, not a list of Tensors
    with pytest.raises(TypeError):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD([{"params": {p}}], lr=0.1)  # a set has no stable order
    with pytest.raises(TypeError):
        lr_scheduler.StepLR("not an optimizer", step_size=1)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_non_leaf_params_raise_value_error_as_in_torch(name):
    """optim.SGD([w * 2]) would update a computed copy, and w would never change."""
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    make = getattr(optim, name)
    with pytest.raises(ValueError, match=r"can't optimize a non-leaf Tensor: params\[1\] \(shape \(2, 3\)\)"):
        make([Tensor(np.ones(2), requires_grad=True), w * 2])
    optimizer = make([Tensor(np.ones(2), requires_grad=True)])
    with pytest.raises(ValueError, match="non-leaf"):
        optimizer.add_param_group({"params": [w.reshape(6)]})
    assert len(optimizer.param_groups) == 1
    with pytest.raises(ValueError, match="non-leaf"):
        getattr(torch.optim, name)([torch.ones(2, 3, requires_grad=True) * 2])


def test_duplicate_params_in_a_group_warn_and_step_as_in_torch():
    """PyTorch 2.13 warns and then updates the duplicated parameter once per appearance; so do we."""
    initial, grads = make_problem(n_steps=1)
    ours = Tensor(initial[0], requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optimizer = optim.SGD([ours, ours], lr=0.1)
    ours.grad = Tensor(grads[0][0])
    optimizer.step()
    theirs = torch.tensor(initial[0], requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        torch_optimizer = torch.optim.SGD([theirs, theirs], lr=0.1)
    theirs.grad = torch.tensor(grads[0][0])
    torch_optimizer.step()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=0, atol=1e-12)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optimizer.add_param_group({"params": [Tensor(np.ones(2), requires_grad=True)] * 2})
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [ours]})


# ------------------------------------------------------------------------------------------------- schedulers

N_SCHEDULER_STEPS = 30

SCHEDULER_CASES = [
    ("SGD", {"lr": 0.1}, "StepLR", {"step_size": 7, "gamma": 0.5}),
    ("SGD", {"lr": 0.1}, "StepLR", {"step_size": 3}),
    ("SGD", {"lr": 0.1}, "CosineAnnealingLR", {"T_max": 12}),  # 30 steps: past T_max it rises again
    ("Adam", {"lr": 0.01}, "CosineAnnealingLR", {"T_max": 10, "eta_min": 1e-4}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "OneCycleLR", {"max_lr": 0.5, "total_steps": N_SCHEDULER_STEPS}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "OneCycleLR", {"max_lr": 0.5, "epochs": 5, "steps_per_epoch": 6,
                                                         "pct_start": 0.25, "anneal_strategy": "linear"}),
    ("Adam", {"lr": 0.01}, "OneCycleLR", {"max_lr": 0.02, "total_steps": N_SCHEDULER_STEPS}),
    ("AdamW", {"lr": 0.01}, "OneCycleLR", {"max_lr": [0.02, 0.05], "total_steps": N_SCHEDULER_STEPS,
                                           "three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0,
                                           "base_momentum": 0.8, "max_momentum": 0.9}),
    ("SGD", {"lr": 0.1}, "OneCycleLR", {"max_lr": 0.5, "total_steps": N_SCHEDULER_STEPS, "cycle_momentum": False}),
]
SCHEDULER_IDS = [f"{scheduler}-{optimizer}-{i}" for i, (optimizer, _, scheduler, _) in enumerate(SCHEDULER_CASES)]


def schedule(optim_module, optimizer_name, optimizer_kwargs, scheduler_name, scheduler_kwargs, make_param):
    """lrs and momenta (SGD momentum or Adam beta1) of each of two param groups, at t = 0 .. N_SCHEDULER_STEPS.

    `optim_module` is tinygrad_bn.optim or torch.optim: the same code drives both.
    """
    groups = [{"params": [make_param()]}, {"params": [make_param()]}]
    optimizer = getattr(optim_module, optimizer_name)(groups, **optimizer_kwargs)
    scheduler = getattr(optim_module.lr_scheduler, scheduler_name)(optimizer, **scheduler_kwargs)
    history = []
    for step in range(N_SCHEDULER_STEPS + 1):
        if step > 0:
            optimizer.step()  # no gradients: nothing moves, but PyTorch wants this call before scheduler.step()
            scheduler.step()
        momenta = [group["betas"][0] if "betas" in group else group["momentum"] for group in optimizer.param_groups]
        history.append((list(scheduler.get_last_lr()), [group["lr"] for group in optimizer.param_groups], momenta))
    return np.array(history, dtype=np.float64)


@pytest.mark.parametrize("optimizer_name, optimizer_kwargs, scheduler_name, scheduler_kwargs", SCHEDULER_CASES,
                         ids=SCHEDULER_IDS)
def test_scheduler_matches_torch(optimizer_name, optimizer_kwargs, scheduler_name, scheduler_kwargs):
    ours = schedule(optim, optimizer_name, optimizer_kwargs, scheduler_name, scheduler_kwargs,
                    lambda: Tensor(np.zeros(2), requires_grad=True))
    theirs = schedule(torch.optim, optimizer_name, optimizer_kwargs, scheduler_name, scheduler_kwargs,
                      lambda: torch.zeros(2, dtype=torch.float64, requires_grad=True))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)


def test_one_cycle_refuses_to_step_past_total_steps():
    p = Tensor(np.zeros(2), requires_grad=True)
    scheduler = lr_scheduler.OneCycleLR(optim.SGD([p], lr=0.1, momentum=0.9), max_lr=0.5, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError):
        scheduler.step()


@pytest.mark.parametrize("kwargs", [
    {"max_lr": 0.1},  # neither total_steps nor epochs and steps_per_epoch
    {"max_lr": 0.1, "total_steps": 0},
    {"max_lr": 0.1, "total_steps": 10, "pct_start": 1.5},
    {"max_lr": 0.1, "total_steps": 10, "anneal_strategy": "exp"},
    {"max_lr": [0.1, 0.2, 0.3], "total_steps": 10},  # one group, three values
])
def test_one_cycle_bad_arguments_raise_value_error(kwargs):
    p = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(ValueError):
        lr_scheduler.OneCycleLR(optim.SGD([p], lr=0.1), **kwargs)


def test_scheduler_state_dict_round_trip():
    """Save the optimizer and the scheduler after 10 steps; fresh copies that load both continue identically."""
    def build():
        p = Tensor(np.zeros(2), requires_grad=True)
        optimizer = optim.SGD([p], lr=0.1, momentum=0.9)
        return optimizer, lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=20)

    optimizer, scheduler = build()
    for _ in range(10):
        scheduler.step()
    saved_optimizer, saved_scheduler = optimizer.state_dict(), scheduler.state_dict()
    resumed_optimizer, resumed_scheduler = build()
    resumed_optimizer.load_state_dict(saved_optimizer)
    resumed_scheduler.load_state_dict(saved_scheduler)
    for _ in range(10):
        scheduler.step()
        resumed_scheduler.step()
        assert resumed_scheduler.get_last_lr() == scheduler.get_last_lr()
        assert resumed_optimizer.param_groups[0]["momentum"] == optimizer.param_groups[0]["momentum"]


# ---------------------------------------------------------------------------------------------------------------
# LBFGS: the closure computes loss and gradients in each library, so the whole algorithm is compared
# ---------------------------------------------------------------------------------------------------------------
def lbfgs_trajectory(lib, kwargs, n_steps=4):
    """Rosenbrock in a 4-vector plus a least-squares fit of a (3, 2) weight and a bias, in float64; the parameters
    after each step() call, and the losses step() returned."""
    rng = np.random.default_rng(5)
    inputs, targets = lib.tensor(rng.standard_normal((6, 3))), lib.tensor(rng.standard_normal((6, 2)))
    params = [lib.tensor(x, requires_grad=True) for x in (np.array([-1.2, 1.0, -0.5, 0.8]),
                                                           rng.standard_normal((3, 2)), np.zeros(2))]
    optimizer = getattr(lib, "optim").LBFGS(params, **kwargs)

    def closure():
        optimizer.zero_grad()
        x, weight, bias = params
        rosenbrock = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        loss = rosenbrock + ((inputs @ weight + bias - targets) ** 2).mean()
        loss.backward()
        return loss

    trajectory, losses = [], []
    for _ in range(n_steps):
        losses.append(optimizer.step(closure).item())
        trajectory.append([p.detach().numpy().copy() for p in params])
    return trajectory, losses, closure().item()


LBFGS_CASES = [{"lr": 0.5, "max_iter": 5}, {"lr": 1, "max_iter": 7, "history_size": 3},
               {"max_iter": 10, "line_search_fn": "strong_wolfe"},
               {"max_iter": 20, "max_eval": 12, "history_size": 4, "line_search_fn": "strong_wolfe"}]


@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=[str(k) for k in LBFGS_CASES])
def test_lbfgs_trajectory_matches_torch(kwargs):
    import tinygrad_bn
    ours, our_losses, _ = lbfgs_trajectory(tinygrad_bn, kwargs)
    expected, torch_losses, _ = lbfgs_trajectory(torch, kwargs)
    np.testing.assert_allclose(our_losses, torch_losses, rtol=1e-9)
    for step, (ours_step, torch_step) in enumerate(zip(ours, expected)):
        for a, b in zip(ours_step, torch_step):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10, err_msg=f"step {step + 1}")


def test_lbfgs_with_strong_wolfe_converges():
    import tinygrad_bn
    _, losses, final = lbfgs_trajectory(tinygrad_bn, {"max_iter": 50, "line_search_fn": "strong_wolfe"}, n_steps=5)
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    design = np.hstack([a, np.ones((6, 1))])
    residual = b - design @ np.linalg.lstsq(design, b, rcond=None)[0]
    assert final == pytest.approx((residual ** 2).mean(), abs=1e-9)  # Rosenbrock at its minimum 0, the fit exact
    assert losses == sorted(losses, reverse=True)


def test_lbfgs_arguments():
    p = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="strong_wolfe"):
        optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [Tensor(np.ones(1), requires_grad=True)]}])
    assert optim.LBFGS([p], max_iter=8).param_groups[0]["max_eval"] == 10  # max_iter * 5 // 4, as PyTorch


def test_lbfgs_state_dict_round_trip_resumes_exactly():
    def make():
        w = Tensor(np.array([-1.2, 1.0, 0.3]), requires_grad=True)
        optimizer = optim.LBFGS([w], max_iter=3, history_size=2)

        def closure():
            optimizer.zero_grad()
            loss = (100 * (w[1:] - w[:-1] ** 2) ** 2 + (1 - w[:-1]) ** 2).sum()
            loss.backward()
            return loss
        return w, optimizer, closure

    w, optimizer, closure = make()
    optimizer.step(closure)
    saved = optimizer.state_dict()  # a snapshot: the steps below must not change it
    optimizer.step(closure), optimizer.step(closure)
    resumed_w, resumed, resumed_closure = make()
    resumed.step(resumed_closure)
    resumed.load_state_dict(saved)
    resumed.step(resumed_closure), resumed.step(resumed_closure)
    np.testing.assert_array_equal(resumed_w.numpy(), w.numpy())
