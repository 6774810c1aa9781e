"""Our port of Vitron's model (SkyworkAI/Vitron, NeurIPS 2024) to the transformers we depend on.

Written from reading Vitron's ``vitron/model/``, ``vitron/mm_utils.py`` and ``vitron/conversation.py``: the
Llama language model with the multimodal projector and the region extractor (:mod:`.modeling`), LanguageBind's
image and video towers (:mod:`.towers`), the conversation, tokens and preprocessing (:mod:`.processing`),
release loading (:mod:`.loading`) and generation (:mod:`.generation`). Importing this package imports torch;
nothing in ``vitron_agent`` imports it until a Vitron planner is asked to plan.
"""
