"""First-generation InternLM (internlm-7b / -chat-7b / -20b / -chat-20b) without remote code.

The v1 checkpoints already use Llama's key names (``model.embed_tokens``,
``self_attn.q_proj`` ...); what differs is the config (``bias`` on q/k/v/o, the
``rotary`` dict of the later chat-7b code), the tokenizer class name that
``AutoTokenizer`` refuses without remote code, and the chat format. See
:mod:`demo_core.internlm1.convert` for the mapping and what each release's remote code does.
"""
