"""The reference TensorFlow trainer that TuningSweep runs by default.

The environment is the interface (see "The trainer contract" in the design): the
operator's Jobs and the local executor set ``TUNINGSWEEP_*`` variables and run
``tuningsweep-trainer``; the same flags exist for people running it by hand.

Modules, in the order a trial uses them:

* :mod:`.config` turns the environment and flags into a validated :class:`TrialConfig`
  (parameters checked against the shared presets table; no TensorFlow involved).
* :mod:`.schema`, :mod:`.examples`, :mod:`.data_synthetic`, :mod:`.data_files`,
  :mod:`.data_source`: the example columns and where they come from.
* :mod:`.tf_runtime`, :mod:`.models`, :mod:`.pipeline`, :mod:`.training`: TensorFlow,
  imported only once the inputs are known to be good.
* :mod:`.outputs` (with :mod:`.gcs`): model, history and TensorBoard logs.
* :mod:`.cli`: the console entry point and its exit codes.
"""

__version__ = "0.1.0"
