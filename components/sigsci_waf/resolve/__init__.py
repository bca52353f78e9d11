"""The resolve stage: settings in, one immutable description of what the stack declares out.

Every rule between fields, entries and components lives here (rules inside one settings model live beside
its fields, in config/); the objects each component declares are built here, once, with `Ref`s where only
the resource shell knows the value. Nothing in this package touches Pulumi resources.
"""
