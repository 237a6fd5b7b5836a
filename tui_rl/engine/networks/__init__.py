"""Every network of every algorithm, composed from the config's ``network`` section:

encoder (``encoders``: MLP | ConvNet) -> optional memory core (``recurrent``: LSTMModule |
GRUModule, its state primed into the env and reset by InitTracker) -> heads (``heads``: Q-values,
actor, critic; one shared trunk through ActorValueOperator when the encoder is a ConvNet or there is
memory). ``config/network_fit.py`` says whether a config fits an observation, in the same words for
the builders, the preflight check and the app's Policy tab.
"""
