"""Model downloads: Hugging Face hub (official, mirrors, any endpoint) and ModelScope.

One job per module: ``hub`` / ``modelscope_source`` turn a repository id into a plan,
``fetch`` moves bytes (resumable, cancellable), ``verify`` proves files intact,
``transfer`` runs a plan into a folder safely, ``jobs`` runs that in the background for
the UI, ``cli`` does it in a terminal, ``api`` is the entry point both call.
"""
