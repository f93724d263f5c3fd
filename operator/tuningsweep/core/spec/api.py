"""The TuningSweep API (tuningsweep.io/v1alpha1) as one schema tree.

This tree is the single source of the API: :mod:`tuningsweep.core.spec.parse` validates user
input against it, and :mod:`tuningsweep.core.kube.crd` renders it as the CRD. Field
descriptions double as ``kubectl explain`` text. Only ``parallelism``, ``suspend`` and
``maxFailedTrials`` may change after creation; every search-defining field is marked
immutable, which becomes a CEL transition rule in the CRD.
"""

from __future__ import annotations

from .podspec import DNS_LABEL, DNS_SUBDOMAIN, LABEL_VALUE, POD_FIELDS
from .presets import ARCHITECTURES
from .schema import Field, Rule

GROUP = "tuningsweep.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "TuningSweep"
PLURAL = "tuningsweeps"
SINGULAR = "tuningsweep"
SHORT_NAMES = ("sweep", "sweeps")

DEFAULT_TRAINER_IMAGE = "ghcr.io/tuningsweep/trainer:0.1.0"
DEFAULT_DATA = "synthetic://ctr?seed=1"
DEFAULT_METRICS = ("val_mse", "loss", "training_time_seconds")

_PARAMETER = Field(
    "object",
    "One hyperparameter: a list of values (grid, random, auto) or a min/max range "
    "(random, auto).",
    properties={
        "values": Field("array", "the values to try", items=Field("any"), min_items=1),
        "min": Field("number", "lower bound of a range (inclusive)"),
        "max": Field("number", "upper bound of a range (inclusive)"),
        "scale": Field("string", "how a range is sampled", enum=("linear", "log")),
        "type": Field("string", "value type; int rounds range draws to integers",
                      enum=("float", "int", "string")),
    },
    # CEL cannot name `values` (its items may be of any type, which CEL has no declaration
    # for, so the API server refuses such a rule), so "values or a range, not both" is an
    # OpenAPI oneOf: exactly one of `values` and `min`, and CEL pairs min with max.
    one_of_required=(("values",), ("min",)),
    # The CRD's copies of spec_sections.parameters_section's range rules. Those about
    # values (types, duplicates) stay there, and so does an integer range without an
    # integer (CEL's math library is newer than the clusters we support).
    rules=(
        Rule("has(self.min) == has(self.max)", "give both min and max (a range), or values"),
        Rule("!has(self.min) || !has(self.max) || self.min <= self.max",
             "max is below min: swap them or raise max", ".max"),
        # A conditional: the same rule as a chain of || is estimated just over the API
        # server's CEL cost budget (the map of parameters has no size limit).
        Rule("has(self.min) && has(self.scale) && self.scale == 'log' ? self.min > 0.0 : true",
             "a log-scale range needs min > 0: raise min above 0 or use scale: linear",
             ".min"),
        Rule("!has(self.min) || !has(self.type) || self.type != 'string'",
             "a min/max range cannot be of type string: use values: [...] for strings",
             ".type"),
    ),
)

_DATE_RANGE = Field(
    "object",
    "An explicit window; whole months are recommended.",
    properties={
        "start": Field("date", "first day of the window (inclusive)", required=True),
        "end": Field("date", "last day of the window (inclusive)", required=True),
    },
    rules=(Rule("self.end >= self.start", "end is before start: swap start and end",
                ".end"),),
)

_FAST = {"months": 1, "maxEpochs": 20}
_RACING = "has(self.search) && has(self.search.racing)"
_MAX_WINDOWS = f"{_RACING} && has(self.search.racing.maxWindows)"
# The CRD's copies of the cross-field rules of core/spec/parse.py and core/spec/sections.py
# that span sections of the spec; each names the field to change.
#: ``spec.trainer.trialsPerPod``'s upper bound: a pack's annotation and environment stay
#: small, and one pod's failure costs at most this many trials a new pod.
MAX_TRIALS_PER_POD = 64
_PACKED = ("has(self.trainer) && has(self.trainer.trialsPerPod) && "
           "self.trainer.trialsPerPod > 1")
_SPEC_RULES = (
    Rule("!has(self.trainer) || !has(self.trainer.trialsPerPod) || "
         f"self.trainer.trialsPerPod <= {MAX_TRIALS_PER_POD}",
         f"is more than {MAX_TRIALS_PER_POD}: a pod's failure would cost that many trials a "
         f"new pod; use {MAX_TRIALS_PER_POD} or fewer", ".trainer.trialsPerPod"),
    Rule(f"!({_PACKED}) || !has(self.trainer.command)",
         "packs trials into one process, and a program cannot be called twice in one: set "
         "trainer.function (MODULE:FUNCTION) in place of trainer.command, or trialsPerPod: 1",
         ".trainer.trialsPerPod"),
    Rule(f"!({_PACKED}) || !has(self.search) || !has(self.search.earlyStopping)",
         "cannot be combined with search.earlyStopping (a packed pod cannot stop one of its "
         "trials): remove search.earlyStopping, or set trialsPerPod: 1",
         ".trainer.trialsPerPod"),
    Rule("!has(self.trainer) || !has(self.trainer.function) || !has(self.trainer.command)",
         "is set together with trainer.command: give the command of a program or the "
         "function of a Python trainer, not both", ".trainer.function"),
    Rule("!has(self.search) || !has(self.search.algorithm) || self.search.algorithm != "
         f"'auto' || self.architecture in {list(ARCHITECTURES)!r}",
         f"auto mode has built-in ranges only for {', '.join(ARCHITECTURES)}: use one of "
         "them, or search.algorithm: grid/random with your own parameters", ".architecture"),
    Rule("!has(self.search) || !has(self.search.algorithm) || self.search.algorithm != "
         "'grid' || !has(self.parameters) || self.parameters.all(k, !has(self.parameters[k].min))",
         "a grid needs a list of values for every parameter: give values: [...] in place of "
         "min and max, or use search.algorithm: random", ".parameters"),
    Rule(f"!({_RACING}) || !has(self.mode) || self.mode != 'fast'",
         "racing needs several windows, and fast mode trains on one: remove search.racing, "
         "or use mode: full", ".search.racing"),
    Rule(f"!({_MAX_WINDOWS}) || !has(self.windows) || !has(self.windows.rolling) || "
         "!has(self.windows.rolling.count) || "
         "self.search.racing.maxWindows >= self.windows.rolling.count",
         "is fewer than windows.rolling.count: set it to the count or more (extra windows "
         "go to contenders)", ".search.racing.maxWindows"),
    Rule(f"!({_MAX_WINDOWS}) || !has(self.windows) || !has(self.windows.ranges) || "
         "self.search.racing.maxWindows <= size(self.windows.ranges)",
         "is more than the windows.ranges given: with ranges, the given ranges are the "
         "limit; add ranges or lower maxWindows", ".search.racing.maxWindows"),
    Rule("(has(self.mode) && self.mode == 'fast') || !has(self.fast) || ("
         + " && ".join(f"(!has(self.fast.{k}) || self.fast.{k} == {v})"
                       for k, v in _FAST.items()) + ")",
         "is set but spec.mode is not fast, so it would be ignored: add mode: fast to train "
         "on one window with capped epochs, or remove spec.fast", ".fast"),
)

SPEC = Field(
    "object",
    "What to tune, on which date windows, and where results go.",
    properties={
        "architecture": Field(
            "string", "the model family the trainer builds (auto mode knows mlp, bow, cnn, lstm)",
            required=True, immutable=True,
            rules=(Rule("self != ''", "must not be empty: name the model family, e.g. mlp"),),
        ),
        "mode": Field("string", "full, or fast: one window of fast.months and capped epochs",
                      default="full", enum=("full", "fast"), immutable=True),
        "fast": Field(
            "object", "settings of fast mode", default=dict(_FAST),
            immutable=True,
            properties={
                "months": Field("integer", "months in the single fast-mode window",
                                default=1, minimum=1),
                "maxEpochs": Field("integer", "epoch cap in fast mode", default=20, minimum=1),
            },
        ),
        "windows": Field(
            "object",
            "the date windows every configuration trains on: exactly one of rolling or ranges",
            default={"rolling": {"count": 3, "months": 3, "stepMonths": 1}},
            immutable=True,
            properties={
                "rolling": Field(
                    "object",
                    "windows relative to the last complete month before the sweep's creation",
                    properties={
                        "count": Field("integer", "number of windows", default=3, minimum=1),
                        "months": Field("integer", "months per window", default=3, minimum=1),
                        "stepMonths": Field("integer", "months between window ends",
                                            default=1, minimum=1),
                    },
                ),
                "ranges": Field("array", "explicit windows", items=_DATE_RANGE, min_items=1),
            },
            rules=(Rule("has(self.rolling) != has(self.ranges)",
                        "give exactly one of rolling or ranges"),),
        ),
        "schedule": Field(
            "string", "makes the sweep recurring: a cron expression (5 fields, UTC, at most "
            "once a day, e.g. '0 6 1 * *'); each slot is a run named by its date, with its "
            "windows resolved against that date (runs locally with `tuningsweep run`)",
            immutable=True, pattern=r"^\s*\S+(\s+\S+){4}\s*$",
        ),
        "historyLimit": Field(
            "integer", "recurring sweeps on a cluster: how many finished runs (child "
            "TuningSweeps) are kept; older ones are deleted, their results stay (default 3)",
            minimum=0,
        ),
        "search": Field(
            "object", "how configurations are chosen",
            default={"algorithm": "grid", "seed": 0}, immutable=True,
            properties={
                "algorithm": Field("string", "grid, random, auto (built-in ranges, "
                                   "learning-rate group first), or tpe (Optuna's Bayesian "
                                   "sampler, learning from the results so far)",
                                   default="grid", enum=("grid", "random", "auto", "tpe")),
                "batchSize": Field("integer", "tpe: configurations asked of the sampler at "
                                   "once (set it to parallelism)", default=4, minimum=1),
                "maxConfigs": Field("integer", "how many configurations to run (each on every "
                                    "window); grid default: the whole grid", minimum=1),
                "seed": Field("integer", "seed for the grid order and random draws", default=0),
                "racing": Field(
                    "object", "race configurations across windows: the clearly-behind stop "
                    "after a window, contenders get extra windows ({} turns it on)",
                    properties={
                        "alpha": Field("number", "error rate of 'significantly behind the "
                                       "leader' (Holm-corrected)", default=0.05,
                                       rules=(Rule("self > 0.0 && self < 1.0",
                                                   "must be between 0 and 1: use e.g. 0.05"),)),
                        "maxWindows": Field("integer", "most windows a contender runs on "
                                            "(rolling: count + 3; ranges: all of them)",
                                            minimum=1),
                        "keepFraction": Field("number", "share of configurations kept after "
                                              "each regular window", default=0.34,
                                              rules=(Rule("self > 0.0 && self < 1.0",
                                                          "must be between 0 and 1: use e.g. "
                                                          "0.34 (a third of the configurations "
                                                          "go on after each window)"),)),
                    },
                ),
                "warmStart": Field(
                    "object", "recurring sweeps: the previous runs' best configurations "
                    "(the last champion first) enter this run's plan first, and tpe learns "
                    "from the previous runs' results ({} turns it on)",
                    properties={
                        "keep": Field("integer", "previous runs' best configurations carried "
                                      "over", default=5, minimum=0),
                        "reuse": Field("boolean", "copy a trial already trained in an earlier "
                                       "run (same window dates, data, trainer, parameters) "
                                       "instead of training it again", default=True),
                    },
                ),
                "earlyStopping": Field(
                    "object", "stop trials that are clearly going nowhere, comparing each "
                    "only with trials of the same window at the same epoch",
                    properties={
                        "rule": Field("string", "median: stop a trial worse than the median "
                                      "of its window's trials at the same epoch; asha: "
                                      "keep the best 1/reductionFactor at each rung",
                                      required=True, enum=("median", "asha")),
                        "graceEpochs": Field("integer", "epochs every trial runs before it "
                                             "may be stopped", default=5, minimum=1),
                        "minTrials": Field("integer", "trials of the window that must have "
                                           "reached the epoch before one is stopped",
                                           default=3, minimum=1),
                        "reductionFactor": Field("integer", "asha: 1 in this many trials "
                                                 "goes on at each rung", default=3, minimum=2),
                    },
                ),
            },
            rules=(Rule("!has(self.algorithm) || self.algorithm != 'auto' || "
                        "!has(self.maxConfigs) || self.maxConfigs >= 2",
                        "auto mode needs at least 2 configurations (one per stage): set "
                        "maxConfigs: 2 or more", ".maxConfigs"),),
        ),
        "budget": Field(
            "object", "no new trial starts once the trials have used this much",
            immutable=True,
            properties={
                "gpuHours": Field("number", "GPU-hours of finished and running trials "
                                  "(GPUs each trial holds x its hours)", minimum=0),
                "trialHours": Field("number", "trial-hours, GPUs or not (for CPU-only "
                                    "runs)", minimum=0),
            },
        ),
        "parameters": Field(
            "object", "the search space, by hyperparameter name", default={},
            values=_PARAMETER, immutable=True,
        ),
        "objective": Field(
            "object", "the metric that ranks configurations",
            default={"metric": "val_mse", "goal": "minimize"}, immutable=True,
            properties={
                "metric": Field("string", "metric name the trainer reports", default="val_mse"),
                "goal": Field("string", "minimize or maximize", default="minimize",
                              enum=("minimize", "maximize")),
            },
        ),
        "metrics": Field("array", "metrics recorded as result columns besides the objective",
                         default=list(DEFAULT_METRICS), items=Field("string"), immutable=True),
        "parallelism": Field("integer", "trials running at once", default=2, minimum=1),
        "maxFailedTrials": Field("integer", "failed trials tolerated before the sweep fails",
                                 default=3, minimum=0),
        "suspend": Field("boolean", "stop starting new trials (running ones finish)",
                         default=False),
        "trainer": Field(
            "object", "the trainer container (cluster) or command (local)",
            default={}, immutable=True,
            properties={
                "image": Field("string", "trainer image, e.g. registry.example/trainer:1.0",
                               default=DEFAULT_TRAINER_IMAGE, pattern=r"^\S+$"),
                "command": Field("array", "command replacing the image entrypoint; locally, "
                                 "the command run per trial", items=Field("string")),
                "function": Field("string", "a Python trainer function, MODULE:FUNCTION, "
                                  "called once per trial (docs/bring-your-own-trainer.md): "
                                  "locally each slot keeps a warm process calling it trial "
                                  "after trial; in a Job's container it is run by python -m "
                                  "tuningsweep.executors.warm_worker --once",
                                  pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"),
                "args": Field("array", "extra arguments", default=[], items=Field("string")),
                "env": Field("array", "extra environment variables", default=[],
                             items=Field("object", properties={
                                 "name": Field("string", "variable name: letters, digits, "
                                               "'_', '-', '.', not starting with a digit",
                                               required=True,
                                               pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"),
                                 "value": Field("string", "variable value", default=""),
                             })),
                # The pod fields are kept as written in the raw spec and checked (and
                # normalised into the model) by core/spec/podspec.py; the CRD states the same
                # schemas.
                "resources": Field("object", "container resources (a GPU by default)",
                                   default={"limits": {"nvidia.com/gpu": 1}}, open=True,
                                   content=POD_FIELDS["resources"]),
                "nodeSelector": Field("object", "node labels the trials must run on",
                                      open=True, content=POD_FIELDS["nodeSelector"]),
                "tolerations": Field("array", "pod tolerations", open=True,
                                     content=POD_FIELDS["tolerations"]),
                "serviceAccountName": Field("string", "service account of the trial pods (a "
                                            "DNS name: lowercase letters, digits, '-', '.')",
                                            pattern=DNS_SUBDOMAIN, max_length=253),
                # No schema default: a new defaulted key would make every sweep recorded
                # before it differ from its own resolved-spec.yaml (ResultsConflict).
                "automountServiceAccountToken": Field(
                    "boolean", "mount a Kubernetes API token for the service account into "
                    "the trial pods (default false: trainers do not call the Kubernetes API, "
                    "and GKE Workload Identity needs no token in the pod)"),
                "priorityClassName": Field("string", "PriorityClass of the trial pods (a DNS "
                                           "name: lowercase letters, digits, '-', '.')",
                                           pattern=DNS_SUBDOMAIN, max_length=253),
                "queueName": Field("string", "Kueue LocalQueue for the trials' Jobs: they are "
                                   "created suspended with the kueue.x-k8s.io/queue-name label "
                                   "and start when Kueue admits them (at most 63 letters, "
                                   "digits, '-', '_', '.')", pattern=LABEL_VALUE,
                                   max_length=63),
                "volumes": Field("array", "pod volumes (persistentVolumeClaim, configMap, "
                                 "secret, emptyDir, csi, nfs, hostPath)", open=True,
                                 content=POD_FIELDS["volumes"]),
                "volumeMounts": Field("array", "container volume mounts", open=True,
                                      content=POD_FIELDS["volumeMounts"]),
                "backoffLimit": Field("integer", "Job retries per trial", default=0, minimum=0),
                # No schema default (see automountServiceAccountToken): 1 in the model.
                "trialsPerPod": Field("integer", "trials of one window run one after another "
                                      "in one Job's pod, in one trainer process (the reference "
                                      "trainer or trainer.function); default 1, a Job per "
                                      "trial (docs/design.md, packing)", minimum=1),
                "activeDeadlineSeconds": Field("integer", "per-trial time limit",
                                               default=86400, minimum=1),
            },
        ),
        "data": Field("string", "data URI: synthetic://ctr?seed=N, gs://bucket/path/, or a "
                      "local folder of date=YYYY-MM-DD partitions", default=DEFAULT_DATA,
                      immutable=True),
        "output": Field(
            "object", "where results and models go", default={}, immutable=True,
            properties={
                "results": Field("string", "results prefix: gs://bucket/path/ or a local "
                                 "folder; the CSV goes to <results>/<namespace>/<name>/"),
                "models": Field("string", "models prefix; each trial saves under "
                                "<models>/<namespace>/<name>/<trial>/"),
            },
        ),
    },
    rules=_SPEC_RULES,
)

# Metadata is Kubernetes' own; the API server adds uid, resourceVersion and more, so it
# passes through and spec.py checks the name and namespace itself.
METADATA = Field(
    "object", "object metadata", open=True,
    properties={
        "name": Field("string", "the sweep's name (DNS-1123: lowercase letters, digits, '-')",
                      required=True),
        "namespace": Field("string", "namespace", default="default"),
        "labels": Field("object", "labels", values=Field("string")),
        "annotations": Field("object", "annotations", values=Field("string")),
    },
)

# The sweep's name becomes the prefix of its Jobs' names and a label value, so it is a
# DNS label (spec.py checks it); the API server alone would allow any DNS subdomain.
MANIFEST_RULES = (
    Rule("!has(self.metadata.name) || (size(self.metadata.name) <= 63 && "
         f"self.metadata.name.matches('{DNS_LABEL}'))",
         "is not a valid sweep name: use lowercase letters, digits and '-', at most 63 "
         "characters", ".metadata.name"),
)

MANIFEST = Field(
    "object", "a TuningSweep manifest",
    properties={
        "apiVersion": Field("string", f"must be {API_VERSION}", required=True),
        "kind": Field("string", f"must be {KIND}", required=True),
        "metadata": METADATA,
        "spec": SPEC,
        "status": Field("object", "written by the operator", open=True),
    },
)

# The spec fields that may change while a sweep runs; everything else is immutable.
MUTABLE_SPEC_FIELDS = ("parallelism", "suspend", "maxFailedTrials")
