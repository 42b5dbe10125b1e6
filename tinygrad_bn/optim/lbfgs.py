"""L-BFGS: a quasi-Newton method that builds a curvature estimate from the last few steps (PyTorch's algorithm).

Newton's method steps by d = -H^-1 g. BFGS never forms H: it keeps pairs (s, y) = (change of the parameters, change
of the gradient) from past steps, and the "two-loop recursion" turns them into H^-1 g directly, with
H_diag = s.y / y.y as the initial guess of H^-1. L-BFGS keeps only the last `history_size` pairs.

Each `step(closure)` runs up to `max_iter` iterations, and so calls `closure` (which recomputes the loss and its
gradients) several times. Without a line search, iteration k moves by lr * d (the very first by lr * d scaled down
to a step of length at most 1 in L1); with line_search_fn="strong_wolfe" it searches along d for a step that lowers
the loss enough and flattens the slope enough (the strong Wolfe conditions), with cubic interpolation between
trial points. The parameters are treated as one flat vector (all of them, concatenated).
"""
import math

from ..autograd import enable_grad
from ..backend import get_array_module
from .optimizer import Optimizer


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clipped to `bounds` (default:
    between x1 and x2); the bounds' midpoint when the cubic has no minimum."""
    low, high = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (low + high) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 <= x2:
        minimum = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        minimum = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minimum, low), high)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Search along d from the current point (loss f, gradient g, slope gtd = g.d < 0) for a step t with
        f(t) <= f + c1 t gtd            (sufficient decrease)   and   |g(t).d| <= -c2 gtd   (the slope has flattened).
    First grow t until a bracket [lo, hi] holds such a point, then shrink the bracket by cubic interpolation.
    `evaluate(t)` returns (loss, flat gradient) at the current point + t d. Returns (f, g, t, evaluations)."""
    d_norm = float(abs(d).max())
    f_new, g_new = evaluate(t)
    evaluations, ls_iter = 1, 0
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    while ls_iter < max_ls:  # 1. bracketing
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # still going down: extrapolate, to between 1.01 t and 10 t
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                    bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # 2. zoom: shrink the bracket; `low` is the end with the lower loss
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # Keep t at least 10% of the bracket away from its ends, or the bracket may shrink too slowly.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(t)
        evaluations += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:  # not low enough: t becomes the high end
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:  # the minimum lies beyond low: old low is high
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evaluations


class LBFGS(Optimizer):
    """`LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None)`, PyTorch's signature; max_eval defaults to max_iter * 5 // 4.
    One parameter group only. `step(closure)` needs the closure: it zeroes the gradients, computes the loss,
    calls backward() and returns the loss."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"only 'strong_wolfe' is supported as line_search_fn, got {line_search_fn!r}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {"lr": lr, "max_iter": max_iter, "max_eval": max_eval, "tolerance_grad": tolerance_grad,
                    "tolerance_change": tolerance_change, "history_size": history_size,
                    "line_search_fn": line_search_fn}
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # The parameters as one flat vector
    def _flat_grad(self):
        xp = get_array_module(self._params[0].array)
        return xp.concatenate([xp.zeros(p.numel(), dtype=p.dtype) if p.grad is None else p.grad.array.reshape(-1)
                               for p in self._params])

    def _add_to_params(self, step_size, direction):
        """params += step_size * direction, in place (the flat direction cut back into each parameter's shape)."""
        offset = 0
        for p in self._params:
            p.array += step_size * direction[offset:offset + p.numel()].reshape(p.shape)
            p._version.value += 1
            offset += p.numel()

    def _evaluate_at(self, closure, start, t, d):
        """(loss, flat gradient) at start + t d; the parameters are then put back at `start`."""
        self._add_to_params(t, d)
        loss = float(closure())
        flat_grad = self._flat_grad()
        for p, array in zip(self._params, start):
            p.array[...] = array
            p._version.value += 1
        return loss, flat_grad

    def step(self, closure):
        """Up to max_iter L-BFGS iterations; returns the loss of the first closure call (as PyTorch)."""
        if closure is None:
            raise RuntimeError("LBFGS.step() needs a closure that recomputes the loss (and calls backward())")
        closure = enable_grad()(closure)
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]
        state = self.state.setdefault(id(self._params[0]), {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:  # already at a stationary point
            return orig_loss

        # What carries over from the previous step() call. The history lists are copied, not changed in place, so
        # that a state_dict() taken earlier stays as it was (the arrays in them are never changed in place).
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = (None if state.get(key) is None else list(state[key])
                                  for key in ("old_dirs", "old_stps", "ro"))
        H_diag, prev_flat_grad, prev_loss = state.get("H_diag"), state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # 1. The direction d = -H^-1 g
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad  # the pair of the last step: change of gradient, change of params
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:  # keep pairs with positive curvature only, so that H stays positive definite
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y.dot(y))
                # two-loop recursion: q = -g through the pairs newest first, scale by H_diag, back oldest first
                al = [None] * len(old_dirs)
                q = -flat_grad
                for i in reversed(range(len(old_dirs))):
                    al[i] = float(old_stps[i].dot(q)) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = float(old_dirs[i].dot(d)) * ro[i]
                    d = d + (al[i] - be_i) * old_stps[i]
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss

            # 2. The step length t along d
            t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = float(flat_grad.dot(d))  # the slope along d
            if gtd > -tolerance_change:  # d does not go down (enough)
                break
            evaluations = 0
            if line_search_fn == "strong_wolfe":
                start = [p.array.copy() for p in self._params]
                loss, flat_grad, t, evaluations = _strong_wolfe(
                    lambda step: self._evaluate_at(closure, start, step, d), t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                opt_cond = False
                if n_iter != max_iter:  # the last iteration's loss is computed by the next step() call
                    loss = float(closure())
                    flat_grad = self._flat_grad()
                    opt_cond = abs(flat_grad).max() <= tolerance_grad
                    evaluations = 1
            current_evals += evaluations
            state["func_evals"] += evaluations

            # 3. Stop when out of iterations or evaluations, or when nothing moves any more
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
