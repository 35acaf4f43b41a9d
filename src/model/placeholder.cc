// placeholder: replaced as the model layer grows
