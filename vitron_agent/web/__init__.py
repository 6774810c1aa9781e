"""The web page: a Gradio app over :class:`~vitron_agent.session.Session` and the typed
:class:`~vitron_agent.decisions.Decision`, started by ``vitron-agent web`` (the ``web`` extra).

- :mod:`.hub`: what every tab of one server shares (the workspace and its model manager, a session per thread).
- :mod:`.actions`: the page's handlers, one session call each, each returning the whole screen.
- :mod:`.views`: the conversation, the decision card, the plan, the log and lineage as plain values.
- :mod:`.form`: the decision's arguments as a form generated from the tool's JSON schema.
- :mod:`.pointing`: boxes, sketches and clicks drawn on the picture, as what goes with a request.
- :mod:`.page`: the layout and which action each control calls.
- :mod:`.server`: launching it (the address, the login, the files it may serve).
"""
