// placeholder: replaced as the tokenizer layer grows
