// placeholder: replaced as the kernels layer grows
