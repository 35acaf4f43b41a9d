// placeholder: replaced as the chat layer grows
